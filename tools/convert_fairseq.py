"""Convert an official fairseq TNN checkpoint (OpenNLPLab/fairseq-evo) to model.safetensors + config.json.

    python3 tools/convert_fairseq.py checkpoint.pt OUT_DIR [--dtype F32|F16|BF16]

Needs only CPU PyTorch (no fairseq, no omegaconf): classes the checkpoint pickled from packages that are not
installed are read as plain stand-ins, which is enough to get at the architecture arguments.

The state dict is read from ckpt["model"]; the architecture from ckpt["args"] (argparse.Namespace, older
fairseq) or ckpt["cfg"]["model"] (newer fairseq). The converter does not interpret the architecture: it records
fairseq's `--arch` and the arguments that change the forward pass (tools/official_args.py) in the safetensors
`__metadata__` (`fairseq_arch`, `fairseq_args` as JSON) and in config.json, and the library's loader maps them to
its config, or refuses an argument it cannot run, by name. Without recorded arguments the loader infers the
architecture from the names and shapes. Tensor names are kept as they are, except fairseq bookkeeping
(`*.version`, `*._float_tensor`), which is dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import types
from typing import Any, Dict, Optional


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from official_args import OFFICIAL_ARCHS, official_args  # noqa: E402
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


# --- conversion ----------------------------------------------------------------------------------------------

def _is_bookkeeping(name: str) -> bool:
    return name.endswith(".version") or name.endswith("._float_tensor")


def convert(checkpoint_path: str, out_dir: str, dtype: str = "F32") -> dict:
    """Writes out_dir/model.safetensors (and, when the checkpoint records its architecture, config.json) and returns
    what config.json holds: ``{"fairseq_arch", "fairseq_args"}``, or ``{}`` for a checkpoint without arguments."""
    ckpt = load_checkpoint(checkpoint_path)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise ConversionError(f"{checkpoint_path}: no 'model' state dict in the checkpoint")
    sd = ckpt["model"]
    if not any(k.startswith(DECODER + "embed_tokens.") or k.startswith(ENCODER + "embed_tokens.") for k in sd):
        raise ConversionError("no decoder.embed_tokens.* or encoder.sentence_encoder.embed_tokens.*: "
                              "not a fairseq TNN language model or encoder state dict")
    args = architecture_args(ckpt)
    arch = args.get("arch") or args.get("_name")
    tensors = {k: v.detach().cpu().float().numpy() for k, v in sd.items() if not _is_bookkeeping(k)}
    os.makedirs(out_dir, exist_ok=True)
    meta = {"format": "pt", "source": os.path.basename(checkpoint_path)}
    config: dict = {}
    if arch:
        if arch not in OFFICIAL_ARCHS:
            print(f"convert_fairseq: warning: {arch!r} is not one of the {len(OFFICIAL_ARCHS)} registered TNN "
                  "architectures; the loader will refuse it unless given a config", file=sys.stderr)
        config = {"fairseq_arch": str(arch), "fairseq_args": official_args(args)}
        meta["fairseq_arch"] = config["fairseq_arch"]
        meta["fairseq_args"] = json.dumps(config["fairseq_args"], sort_keys=True)
    save_file(tensors, os.path.join(out_dir, "model.safetensors"), dtype=dtype, metadata=meta)
    config_path = os.path.join(out_dir, "config.json")
    if config:
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
    elif os.path.exists(config_path):
        os.remove(config_path)  # a stale one would describe another model
    return config


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
    print(json.dumps(cfg, indent=2, sort_keys=True) if cfg else "no architecture recorded: the loader will infer it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
