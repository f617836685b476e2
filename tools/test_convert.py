"""Tests of tools/convert_fairseq.py on fake fairseq checkpoints built with torch.save.

The converter records the architecture; the TypeScript loader maps it. The link between the two is tested here by
converting checkpoints made from the official fixtures' weights and arguments and comparing what the converter
writes with what those fixtures (which test/official.test.ts loads and checks against the official code) hold.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from convert_fairseq import ConversionError, convert, main  # noqa: E402
from safetensors_io import load_file  # noqa: E402

OFFICIAL = os.path.join(HERE, "..", "test", "fixtures", "official")


def _fixture(name: str):
    """An official fixture's weights (bookkeeping included) and its recorded architecture and arguments."""
    W, _, meta = load_file(os.path.join(OFFICIAL, name, "model.safetensors"))
    return W, meta["fairseq_arch"], json.loads(meta["fairseq_args"])


def _checkpoint(W: dict, **extra) -> dict:
    sd = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in W.items()}
    ckpt = {"model": sd, "optimizer_history": [{"criterion_name": "CrossEntropyCriterion"}], "extra_state": {}}
    ckpt.update(extra)
    return ckpt


def _converted(out: str):
    W, dtypes, meta = load_file(os.path.join(out, "model.safetensors"))
    config_path = os.path.join(out, "config.json")
    config = json.load(open(config_path)) if os.path.exists(config_path) else None
    return W, dtypes, meta, config


@pytest.mark.parametrize("name", ["tnn_v2_decay_99_pre", "tnn_decay_99", "tnn_v2_decay_99_pre_ada", "roberta_tnn_v2_decay_99"])
def test_records_what_the_official_fixtures_hold(tmp_path, name):
    W, arch, args = _fixture(name)
    path = str(tmp_path / "checkpoint.pt")
    # Older fairseq: an argparse.Namespace with every argument, relevant or not.
    torch.save(_checkpoint(W, args=argparse.Namespace(arch=arch, lr=[0.0005], dropout=0.1, **args)), path)
    out = str(tmp_path / "out")
    assert main([path, out]) == 0
    W_out, _, meta, config = _converted(out)
    assert meta["fairseq_arch"] == arch and json.loads(meta["fairseq_args"]) == args
    assert config == {"fairseq_arch": arch, "fairseq_args": args}
    assert "lr" not in config["fairseq_args"] and "dropout" not in config["fairseq_args"]
    kept = {k for k in W if not (k.endswith(".version") or k.endswith("._float_tensor"))}
    assert set(W_out) == kept  # bookkeeping dropped, every other name as it was
    for k in kept:
        np.testing.assert_array_equal(W_out[k], W[k])


def test_newer_fairseq_keeps_the_arch_under_cfg_model(tmp_path):
    W, arch, args = _fixture("tnn_v2_decay_99_post")
    path = str(tmp_path / "checkpoint.pt")
    torch.save(_checkpoint(W, args=None, cfg={"model": {"_name": arch, **args}}), path)
    config = convert(path, str(tmp_path / "out"), dtype="F16")
    assert config == {"fairseq_arch": arch, "fairseq_args": args}
    _, dtypes, _, _ = _converted(str(tmp_path / "out"))
    assert set(dtypes.values()) == {"F16"}


def test_without_arguments_nothing_is_recorded_and_a_stale_config_goes(tmp_path):
    W, _, _ = _fixture("tnn_v2_decay_99_pre")
    path = str(tmp_path / "checkpoint.pt")
    torch.save(_checkpoint(W), path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text('{"d_model": 999}')
    assert convert(path, str(out)) == {}
    _, _, meta, config = _converted(str(out))
    assert config is None and "fairseq_arch" not in meta and meta["source"] == "checkpoint.pt"


def test_checkpoint_pickling_classes_that_are_not_installed(tmp_path):
    """Real checkpoints pickle omegaconf/fairseq objects; the converter must read them without those packages."""
    mod = types.ModuleType("fake_omegaconf_for_test")

    class DictConfig:  # mimics omegaconf: children in "_content", leaves in "_val"
        def __init__(self, content):
            self.__dict__["_content"] = content

    class AnyNode:
        def __init__(self, val):
            self.__dict__["_val"] = val

    DictConfig.__module__ = AnyNode.__module__ = mod.__name__
    DictConfig.__qualname__, AnyNode.__qualname__ = "DictConfig", "AnyNode"
    mod.DictConfig, mod.AnyNode = DictConfig, AnyNode
    sys.modules[mod.__name__] = mod
    W, arch, args = _fixture("tnn_v2_decay_99_pre_usenorm")
    try:
        model_cfg = DictConfig({"_name": AnyNode(arch), **{k: AnyNode(v) for k, v in args.items()}})
        path = str(tmp_path / "checkpoint.pt")
        torch.save(_checkpoint(W, args=None, cfg=DictConfig({"model": model_cfg})), path)
    finally:
        del sys.modules[mod.__name__]
    with pytest.raises(Exception):
        torch.load(path, weights_only=False)  # the plain loader cannot find the class any more
    config = convert(path, str(tmp_path / "out"))
    assert config["fairseq_arch"] == arch and config["fairseq_args"]["use_norm"] is True


def test_an_unknown_arch_converts_with_a_warning(tmp_path, capsys):
    W, _, args = _fixture("tnn_v2_decay_99_pre")
    path = str(tmp_path / "checkpoint.pt")
    torch.save(_checkpoint(W, args=argparse.Namespace(arch="tnn_v3_experimental", **args)), path)
    assert convert(path, str(tmp_path / "out"))["fairseq_arch"] == "tnn_v3_experimental"
    assert "not one of the 20 registered" in capsys.readouterr().err


def test_not_a_tnn_checkpoint(tmp_path):
    path = str(tmp_path / "checkpoint.pt")
    torch.save({"model": {"foo.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(ConversionError, match="embed_tokens"):
        convert(path, str(tmp_path / "out"))
    assert main([path, str(tmp_path / "out2")]) == 1
