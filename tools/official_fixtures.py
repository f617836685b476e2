"""Golden fixtures from the OFFICIAL TNN code: every registered fairseq-evo architecture, run in float64.

    python3 tools/official_fixtures.py /path/to/fairseq-evo [--out test/fixtures/official] [--only NAME ...]

Needs CPU PyTorch, einops, numpy and fairseq's own Python dependencies (tools/README.md lists the commands). The
checkout is imported, never copied: this script builds each architecture exactly as fairseq does (the registered
architecture function, then the model class's build_model), shrinks only its sizes, fills every parameter with
seeded random values, rounds them to float32, runs the model in float64 and writes, per architecture,
test/fixtures/official/<name>/{model.safetensors, input.json, logits.bin}. The safetensors `__metadata__` records
the architecture and its arguments exactly as tools/convert_fairseq.py does, so the fixtures also test that path.

fairseq-evo predates Python 3.11 and numpy 2; the shims below (dataclass defaults, hydra's config store, numpy's
removed aliases, optional CUDA extensions) let its modules import without changing a line of it.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib.abc
import importlib.machinery
import json
import math
import os
import sys
import types

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from official_args import OFFICIAL_ARCHS, official_args  # noqa: E402
from safetensors_io import save_file  # noqa: E402


# --- importing fairseq-evo on a current Python --------------------------------------------------------------------

def _patch_dataclasses() -> None:
    """Python 3.11 refuses unhashable dataclass defaults, which fairseq's configs use; give them default factories."""
    original = dataclasses._get_field

    def get_field(cls, name, type_, default_kw_only=False):
        default = getattr(cls, name, dataclasses.MISSING)
        if (not name.startswith("_") and not isinstance(default, dataclasses.Field) and default is not dataclasses.MISSING
                and type(default).__hash__ is None):
            setattr(cls, name, dataclasses.field(default_factory=lambda d=default: copy.deepcopy(d)))
        return original(cls, name, type_, default_kw_only)

    dataclasses._get_field = get_field


class _Stub(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (), {"__init__": lambda self, *a, **k: None, "__call__": lambda self, *a, **k: None})


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Optional CUDA extensions some unrelated fairseq-evo modules import at load time; nothing here calls them."""

    NAMES = {"hgru"}

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in self.NAMES:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _Stub(spec.name)

    def exec_module(self, module):
        module.__path__ = []


def import_fairseq(checkout: str):
    _patch_dataclasses()
    for name, value in [("float", float), ("int", int), ("long", int)]:
        setattr(np, name, value)  # aliases numpy 2 removed
    from hydra.core.config_store import ConfigStore
    ConfigStore.store = lambda *a, **k: None  # fairseq registers its configs with hydra at import; not needed here
    sys.meta_path.insert(0, _StubFinder())
    sys.path.insert(0, checkout)
    import fairseq  # noqa: F401
    import torch
    return torch


# --- the architectures ---------------------------------------------------------------------------------------------

LM_ARCHS = [a for a in OFFICIAL_ARCHS if not a.startswith("roberta")]
ENCODER_ARCHS = [a for a in OFFICIAL_ARCHS if a.startswith("roberta")]

#: Cases beyond the registered architectures: (name, arch, argument overrides applied after the arch function).
EXTRA_CASES = [
    ("tnn_v2_decay_99_pre+layernorm_embedding", "tnn_v2_decay_99_pre", {"layernorm_embedding": True}),
    ("tnn_v2_decay_99_pre+tied", "tnn_v2_decay_99_pre", {"share_decoder_input_output_embed": True}),
    ("tnn_v2_decay_99_pre+heads2", "tnn_v2_decay_99_pre", {"decoder_attention_heads": 2}),
    ("roberta_tnn_v2_decay_99+encoder_normalize_before", "roberta_tnn_v2_decay_99", {"encoder_normalize_before": True}),
]

#: Long cases: (name, arch), n = 3000, logits kept at 65 positions.
LONG_CASES = ["tnn_v2_decay_99_pre", "tnn_v2_decay_99_post", "tnn_decay_99", "tnn_v2_decay_99_pre_ada", "roberta_tnn_v2_decay_99"]

VOCAB = 120
PAD = 1


class _Dictionary:
    """What build_model needs of a fairseq Dictionary: its size and special ids."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self):
        return self.n

    def pad(self):
        return PAD

    def bos(self):
        return 0

    def eos(self):
        return 2

    def unk(self):
        return 3

    def index(self, sym):
        return 3


class _Task:
    def __init__(self, n: int):
        self.source_dictionary = self.target_dictionary = self.dictionary = _Dictionary(n)


def _lm_defaults():
    from fairseq.models.transformer_lm import TransformerLanguageModelConfig
    cfg = TransformerLanguageModelConfig()
    out = {}
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        if isinstance(v, str) and v.startswith("${"):
            continue  # interpolations of the task's config; set below where the model reads them
        out[f.name] = v
    out.update(add_bos_token=False, tokens_per_sample=512, max_target_positions=512, tpu=False, task="language_modeling")
    return out


def build_args(arch: str, overrides: dict, long_case: bool):
    from fairseq.models import ARCH_CONFIG_REGISTRY
    encoder = arch.startswith("roberta")
    # As fairseq's command line does: the arch function sees only what was given (fairseq removes the dataclass
    # defaults from its parser for exactly this), then the remaining defaults fill in.
    args = argparse.Namespace(arch=arch)
    if encoder:
        args.max_positions = args.tokens_per_sample = 4096
        args.task = "masked_lm"
    ARCH_CONFIG_REGISTRY[arch](args)
    if not encoder:
        for k, v in _lm_defaults().items():
            if not hasattr(args, k):
                setattr(args, k, v)
    side = "encoder" if encoder else "decoder"
    # Shrink the sizes only; every structural setting stays as the architecture made it.
    d_orig = getattr(args, f"{side}_embed_dim")
    d = 32 if getattr(args, "adaptive_input", False) else 16
    glu_ratio = (getattr(args, "glu_dim", -1) if getattr(args, "glu_dim", -1) != -1 else d_orig) / d_orig
    setattr(args, f"{side}_embed_dim", d)
    if not encoder:
        args.decoder_input_dim = args.decoder_output_dim = d
    setattr(args, f"{side}_ffn_embed_dim", 4 * d)
    args.glu_dim = int(round(glu_ratio * d))
    setattr(args, f"{side}_layers", 2)
    args.rpe_embedding = 8 if args.rpe_embedding <= 64 else 12
    args.rpe_layers = min(args.rpe_layers, 2)
    if getattr(args, "adaptive_input", False):
        args.adaptive_input_cutoff = args.adaptive_softmax_cutoff = "20,60"
    for k in ["dropout", "attention_dropout", "activation_dropout", "relu_dropout", "adaptive_softmax_dropout", "pooler_dropout"]:
        if hasattr(args, k):
            setattr(args, k, 0.0)
    for k, v in overrides.items():
        setattr(args, k, v)
    if encoder and long_case:
        args.max_positions = args.tokens_per_sample = 4096
    return args


def build_model(arch: str, args):
    from fairseq.models import ARCH_MODEL_REGISTRY
    return ARCH_MODEL_REGISTRY[arch].build_model(args, _Task(VOCAB))


def randomize(model, torch, seed: int) -> None:
    """Seeded random values for every parameter, so each one matters; the frozen decays keep their official value."""
    g = torch.Generator().manual_seed(seed)
    seen = set()
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) in seen:
            continue
        seen.add(id(p))
        with torch.no_grad():
            if name.endswith("toep.gamma"):
                continue
            shape = p.shape
            u = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1
            if "layer_norm" in name or "layernorm" in name:
                v = 1 + 0.4 * u if name.endswith("weight") else 0.1 * u
            elif len(shape) == 2:
                fan_in = shape[1]
                gain = 0.5 if "rpe.out" in name else 1.0
                v = u * gain / math.sqrt(fan_in)
                if "embed_tokens.embeddings" in name or "adaptive_softmax" in name:
                    # Adaptive bands are tied into the softmax; without a final norm, larger values would make every
                    # log-probability but one hugely negative.
                    v = u * 0.3 / math.sqrt(shape[1])
                elif "embed" in name:
                    v = u * 2 / math.sqrt(shape[1])
            else:
                v = u * 0.2
            p.copy_(v.to(p.dtype))


def to_f32_state(model, torch):
    state = {}
    for k, v in model.state_dict().items():
        if v.dtype in (torch.float32, torch.float64, torch.float16):
            state[k] = v.detach().to(torch.float32).numpy().copy()
        else:
            state[k] = v.detach().numpy().copy()
    return state


def lm_output(model, tokens, torch):
    out = model(tokens)
    if model.decoder.adaptive_softmax is not None:
        return model.get_normalized_probs(out, log_probs=True), "log_probs"
    return out[0], "logits"


def greedy(model, prompt, steps, torch):
    ids = list(prompt)
    new = []
    for _ in range(steps):
        out, _kind = lm_output(model, torch.tensor([ids]), torch)
        nxt = int(out[0, -1].argmax())
        ids.append(nxt)
        new.append(nxt)
    return new


def make_case(name: str, arch: str, overrides: dict, n: int, batch: int, positions, out_dir: str, torch, seed: int) -> dict:
    encoder = arch.startswith("roberta")
    args = build_args(arch, overrides, n > 512)
    model = build_model(arch, args)
    if encoder:
        # A sentence classification head, as fine-tuning registers one (the official TNN heads pool by the mean).
        model.register_classification_head("sentiment", num_classes=3)
    randomize(model, torch, seed)
    model.eval()
    state = to_f32_state(model, torch)
    # The float64 run reads exactly the float32-rounded weights.
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    model.double()
    rng = np.random.default_rng(seed)
    # The decoder's inputs include every id, padding among them (the official decoder masks nothing); the encoder's
    # include padding only where a row is padded on purpose.
    ids = rng.integers(4 if encoder else 0, VOCAB, size=(batch, n)).astype(np.int64)
    if encoder and batch > 1:
        ids[1, n - n // 4:] = PAD  # a batch padded to one length
    with torch.no_grad():
        classify = None
        if encoder:
            out = model(torch.from_numpy(ids))[0]
            kind = "logits"
            cls = model(torch.from_numpy(ids), features_only=True, classification_head_name="sentiment")[0]
            classify = {"head": "sentiment", "logits": cls.numpy().tolist()}
        else:
            out, kind = lm_output(model, torch.from_numpy(ids), torch)
        out = out.numpy()
        greedy_ref = None
        if not encoder and n <= 512:
            prompt = [int(x) for x in ids[0, :5]]
            greedy_ref = {"prompt": prompt, "tokens": greedy(model, prompt, 24, torch)}
    if positions is not None:
        out = out[:, positions, :]
    case_dir = os.path.join(out_dir, name)
    os.makedirs(case_dir, exist_ok=True)
    meta_args = official_args(args)
    save_file(state, os.path.join(case_dir, "model.safetensors"),
              metadata={"fairseq_arch": arch, "fairseq_args": json.dumps(meta_args, sort_keys=True)})
    out.astype("<f4").tofile(os.path.join(case_dir, "logits.bin"))
    info = {
        "arch": arch,
        "description": f"official {arch}{' with ' + json.dumps(overrides) if overrides else ''}, float64, n={n}, batch={batch}",
        "ids": ids.tolist(),
        "positions": positions,
        "logits_shape": list(out.shape),
        "max_abs_logit": float(np.abs(out).max()),
        "output": kind,
        "pad_index": PAD,
    }
    if greedy_ref:
        info["greedy"] = greedy_ref
    if classify:
        info["classify"] = classify
    with open(os.path.join(case_dir, "input.json"), "w") as f:
        json.dump(info, f, separators=(",", ":"))
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkout", help="a fairseq-evo checkout (OpenNLPLab/fairseq-evo)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "official"))
    ap.add_argument("--only", nargs="*", help="case names to (re)generate")
    a = ap.parse_args()
    torch = import_fairseq(os.path.abspath(a.checkout))
    torch.set_num_threads(1)
    cases = [(arch, arch, {}, 45, 2, None) for arch in LM_ARCHS + ENCODER_ARCHS]
    cases += [(name, arch, over, 45, 2, None) for name, arch, over in EXTRA_CASES]
    long_positions = sorted(set(np.linspace(0, 2999, 64).astype(int).tolist()) | {2999})
    cases += [(f"{arch}_n3000", arch, {}, 3000, 1, long_positions) for arch in LONG_CASES]
    for i, (name, arch, over, n, batch, positions) in enumerate(cases):
        if a.only and name not in a.only:
            continue
        info = make_case(name, arch, over, n, batch, positions, a.out, torch, seed=1000 + i)
        print(f"{name}: {info['output']} {info['logits_shape']} max|.| {info['max_abs_logit']:.3f}")


if __name__ == "__main__":
    main()
