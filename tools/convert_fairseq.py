"""Convert an official fairseq TNN checkpoint (OpenNLPLab/fairseq-evo) to model.safetensors + config.json.

    python3 tools/convert_fairseq.py checkpoint.pt OUT_DIR [--dtype F32|F16|BF16]

Needs only CPU PyTorch (no fairseq, no omegaconf): classes the checkpoint pickled from packages that are not
installed are read as plain stand-ins, which is enough to get at the architecture arguments.

The state dict is read from ckpt["model"]; the architecture from ckpt["args"] (argparse.Namespace, older
fairseq) or ckpt["cfg"]["model"] (newer fairseq). Sizes come from the tensor shapes; the arguments decide what
shapes cannot tell (pre/post norm, causal, embedding scale), with the official archs' values as the fallback:
`decoder.*` = causal pre-norm LM with sqrt(d) embedding scale, `encoder.sentence_encoder.*` = bidirectional
post-norm encoder without scale. Tensor names are kept as they are, except fairseq bookkeeping (`*.version`,
`*._float_tensor`), which is dropped.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import sys
import types
from typing import Any, Dict, Optional

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_file  # noqa: E402

DECODER = "decoder."
ENCODER = "encoder.sentence_encoder."


class ConversionError(Exception):
    pass


# --- reading checkpoints without fairseq/omegaconf installed ---------------------------------------------------

class _StandIn:
    """Takes the place of a class the checkpoint refers to but this Python cannot import."""

    _qualname = "?"

    def __init__(self, *args, **kwargs):
        self._args = args
        self._kwargs = kwargs

    def __setstate__(self, state):
        self._state = state

    def __call__(self, *args, **kwargs):  # some pickles call reconstructed objects as factories
        return _StandIn(*args, **kwargs)


def _stand_in(module: str, name: str):
    return type(name, (_StandIn,), {"_qualname": f"{module}.{name}"})


class _PermissiveUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            return _stand_in(module, name)


_permissive_pickle = types.ModuleType("permissive_pickle")
_permissive_pickle.Unpickler = _PermissiveUnpickler
_permissive_pickle.load = lambda f, **kw: _PermissiveUnpickler(f, **kw).load()
_permissive_pickle.__name__ = "permissive_pickle"


def load_checkpoint(path: str) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_permissive_pickle)


def to_plain(obj: Any, depth: int = 0) -> Any:
    """argparse.Namespace / omegaconf DictConfig (real or stand-in) / dicts -> plain Python values."""
    if depth > 50:
        return None
    if isinstance(obj, argparse.Namespace):
        return {k: to_plain(v, depth + 1) for k, v in vars(obj).items()}
    if isinstance(obj, dict):
        return {k: to_plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v, depth + 1) for v in obj]
    if isinstance(obj, _StandIn):
        state = getattr(obj, "_state", None)
        if isinstance(state, dict):
            # omegaconf containers keep their children in "_content"; value nodes keep theirs in "_val".
            if "_content" in state:
                return to_plain(state["_content"], depth + 1)
            if "_val" in state:
                return to_plain(state["_val"], depth + 1)
            return {k: to_plain(v, depth + 1) for k, v in state.items() if not k.startswith("_")}
        return None
    mod = type(obj).__module__ or ""
    if mod.startswith("omegaconf"):
        try:
            from omegaconf import OmegaConf

            return OmegaConf.to_container(obj, resolve=True)
        except Exception:  # noqa: BLE001 - a cfg we cannot resolve just gives no arguments
            return None
    return obj


def architecture_args(ckpt: dict) -> Dict[str, Any]:
    args = to_plain(ckpt.get("args"))
    if isinstance(args, dict) and args:
        return args
    cfg = to_plain(ckpt.get("cfg"))
    if isinstance(cfg, dict):
        model = cfg.get("model")
        if isinstance(model, dict):
            return model
    return {}


# --- config inference ------------------------------------------------------------------------------------------

def _shape(sd, name):
    if name not in sd:
        raise ConversionError(f"missing tensor {name}")
    return tuple(sd[name].shape)


def _check_supported(args: Dict[str, Any]) -> None:
    expect = {
        "act_fun": "silu", "glu_act": "silu", "use_norm": False, "residual": False, "adaptive_input": False,
        "character_embeddings": False, "norm_type": "simplermsnorm",
    }
    for key, want in expect.items():
        if key in args and args[key] is not None and args[key] != want:
            raise ConversionError(f"unsupported architecture: args.{key} = {args[key]!r} (this library implements "
                                  f"{key} = {want!r}, as in the official tnn_v2 LM/RoBERTa archs)")
    for key in ("gtu_type", "glu_type", "toep_type"):
        if key in args and args[key] not in (None, 1):
            raise ConversionError(f"unsupported architecture: args.{key} = {args[key]!r}")


def infer_config(sd: Dict[str, Any], args: Dict[str, Any]) -> dict:
    if DECODER + "embed_tokens.weight" in sd:
        P, decoder = DECODER, True
    elif ENCODER + "embed_tokens.weight" in sd:
        P, decoder = ENCODER, False
    else:
        raise ConversionError("no decoder.embed_tokens.weight or encoder.sentence_encoder.embed_tokens.weight: "
                              "not a fairseq TNN language model or encoder state dict")
    _check_supported(args)
    V, d = _shape(sd, P + "embed_tokens.weight")
    layer_ids = sorted({int(m.group(1)) for k in sd for m in [re.match(re.escape(P) + r"layers\.(\d+)\.", k)] if m})
    if not layer_ids or layer_ids != list(range(len(layer_ids))):
        raise ConversionError(f"layers under {P}layers.* are not numbered 0..L-1: {layer_ids}")
    g = P + "layers.0.self_attn.gtu."
    d1, d_in = _shape(sd, g + "v_proj.weight")
    if d_in != d or d1 % d:
        raise ConversionError(f"{g}v_proj.weight has shape {(d1, d_in)}; expected (k*{d}, {d})")
    e = _shape(sd, g + "toep.rpe.pos_proj.weight")[0]
    rpe_layers = len({m.group(1) for k in sd for m in [re.match(re.escape(g) + r"toep\.rpe\.layers\.(\d+)\.", k)] if m})
    glu_dim = _shape(sd, P + "layers.0.glu.l1.weight")[0]
    gamma_key = g + "toep.gamma"
    side = "decoder" if decoder else "encoder"
    if gamma_key in sd:
        heads = _shape(sd, gamma_key)[0]
        gamma = args.get("gamma")
        if gamma is None:
            gamma = float(np.asarray(sd[gamma_key], dtype=np.float64).reshape(-1)[0])
    else:
        if args.get("use_decay"):
            raise ConversionError(f"args.use_decay is set but {gamma_key} is missing")
        heads = int(args.get(f"{side}_attention_heads") or 1)
        gamma = None
    if d1 % heads:
        raise ConversionError(f"{d1} channels do not split into {heads} heads")
    prenorm = args.get(f"{side}_normalize_before")
    if prenorm is None:
        prenorm = decoder
    causal = args.get("causal")
    if causal is None:
        causal = decoder
    no_scale = args.get("no_scale_embedding")
    if no_scale is None:
        no_scale = not decoder
    max_positions = args.get("tokens_per_sample") or args.get("max_target_positions") or args.get("max_positions")
    return {
        "d_model": int(d),
        "n_layers": len(layer_ids),
        "expand_ratio": int(d1 // d),
        "n_heads": int(heads),
        "rpe_dim": int(e),
        "rpe_layers": int(rpe_layers),
        "gamma": None if gamma is None else float(gamma),
        "causal": bool(causal),
        "prenorm": bool(prenorm),
        "glu_dim": int(glu_dim),
        "vocab_size": int(V),
        "pad_index": 1,  # fairseq dictionaries put <pad> at 1; the checkpoint does not record it
        "embed_scale": 1.0 if no_scale else math.sqrt(d),
        "final_norm": "layernorm" if P + "layer_norm.weight" in sd else None,
        "embedding_layernorm": P + "layernorm_embedding.weight" in sd,
        "lm_head": "tied" if decoder else "mlm",
        "max_positions": int(max_positions) if max_positions else 512,
    }


def _is_bookkeeping(name: str) -> bool:
    return name.endswith(".version") or name.endswith("._float_tensor")


def convert(checkpoint_path: str, out_dir: str, dtype: str = "F32") -> dict:
    ckpt = load_checkpoint(checkpoint_path)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise ConversionError(f"{checkpoint_path}: no 'model' state dict in the checkpoint")
    sd = ckpt["model"]
    args = architecture_args(ckpt)
    cfg = infer_config(sd, args)
    tensors = {}
    for k, v in sd.items():
        if _is_bookkeeping(k):
            continue
        tensors[k] = v.detach().cpu().float().numpy()
    if cfg["lm_head"] == "tied" and "decoder.output_projection.weight" not in tensors:
        tensors["decoder.output_projection.weight"] = tensors["decoder.embed_tokens.weight"]
    os.makedirs(out_dir, exist_ok=True)
    meta = {"format": "pt", "source": os.path.basename(checkpoint_path)}
    if args.get("arch") or args.get("_name"):
        meta["arch"] = str(args.get("arch") or args.get("_name"))
    save_file(tensors, os.path.join(out_dir, "model.safetensors"), dtype=dtype, metadata=meta)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    return cfg


def main(argv: Optional[list] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out_dir")
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
    a = ap.parse_args(argv)
    try:
        cfg = convert(a.checkpoint, a.out_dir, a.dtype)
    except (ConversionError, FileNotFoundError) as err:
        print(f"convert_fairseq: {err}", file=sys.stderr)
        return 1
    print(json.dumps(cfg, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
