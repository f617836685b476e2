"""Tests of tools/convert_fairseq.py on fake fairseq checkpoints built with torch.save."""

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
import reference as R  # noqa: E402
from convert_fairseq import ConversionError, convert, main  # noqa: E402
from make_fixtures import base_config, encoder_config, random_weights  # noqa: E402
from safetensors_io import load_file, round_to_dtype  # noqa: E402

LM_ARGS = dict(
    arch="tnn_v2_decay_99_pre", decoder_normalize_before=True, decoder_attention_heads=1, causal=True,
    act_fun="silu", expand_ratio=3, use_norm=False, norm_type="simplermsnorm", use_decay=True, gamma=0.99,
    rpe_embedding=16, rpe_layers=2, residual=False, glu_act="silu", no_scale_embedding=False, tokens_per_sample=512,
    adaptive_input=False, character_embeddings=False,
)


def _checkpoint(W: dict, **extra) -> dict:
    sd = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in W.items()}
    ckpt = {"model": sd, "optimizer_history": [{"criterion_name": "CrossEntropyCriterion"}], "extra_state": {}}
    ckpt.update(extra)
    return ckpt


def _same_logits(W_src, cfg_src, out_dir):
    W_out, _, _ = load_file(os.path.join(out_dir, "model.safetensors"))
    cfg_out = json.load(open(os.path.join(out_dir, "config.json")))
    ids = np.random.default_rng(0).integers(0, cfg_src["vocab_size"], size=(2, 37))
    want = R.logits(W_src, cfg_src, ids)
    got = R.logits(W_out, cfg_out, ids)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
    return cfg_out, W_out


def test_causal_lm_with_namespace_args(tmp_path):
    cfg = base_config(rpe_layers=2, rpe_dim=16, gamma=0.99)
    W = random_weights(cfg, np.random.default_rng(0))
    W = {k: (np.full_like(v, 0.99) if k.endswith("toep.gamma") else v) for k, v in W.items()}
    path = str(tmp_path / "checkpoint.pt")
    torch.save(_checkpoint(W, args=argparse.Namespace(**LM_ARGS)), path)
    out = str(tmp_path / "out")
    assert main([path, out]) == 0
    cfg_out, W_out = _same_logits(W, cfg, out)
    assert cfg_out == cfg
    assert "decoder.version" not in W_out  # bookkeeping is dropped
    assert set(W_out) == set(W) - {"decoder.version"}


def test_missing_output_projection_is_filled_and_heads_come_from_gamma(tmp_path):
    cfg = base_config(n_heads=2)
    W = random_weights(cfg, np.random.default_rng(1), omit_output_projection=True)
    path = str(tmp_path / "checkpoint.pt")
    # newer fairseq: architecture under cfg["model"], here as a plain dict
    torch.save(_checkpoint(W, args=None, cfg={"model": {"_name": "tnn_v2_decay_99_pre", "gamma": None}}), path)
    out = str(tmp_path / "out")
    cfg_out = convert(path, out)
    assert cfg_out["n_heads"] == 2
    # gamma not in the args: taken from the (per-channel) tensor, which stays authoritative in the weights
    assert cfg_out["gamma"] == pytest.approx(float(W["decoder.layers.0.self_attn.gtu.toep.gamma"].reshape(-1)[0]))
    W_out, _, _ = load_file(os.path.join(out, "model.safetensors"))
    np.testing.assert_array_equal(W_out["decoder.output_projection.weight"], W["decoder.embed_tokens.weight"])
    _same_logits(W, cfg, out)


def test_encoder_without_args_follows_the_official_roberta_arch(tmp_path):
    cfg = encoder_config(n_heads=2)
    W = random_weights(cfg, np.random.default_rng(2))
    path = str(tmp_path / "checkpoint.pt")
    torch.save(_checkpoint(W), path)
    out = str(tmp_path / "out")
    cfg_out = convert(path, out, dtype="F16")
    assert cfg_out["causal"] is False and cfg_out["prenorm"] is False and cfg_out["embed_scale"] == 1.0
    assert cfg_out["lm_head"] == "mlm" and cfg_out["embedding_layernorm"] is True and cfg_out["final_norm"] is None
    _, stored, _ = load_file(os.path.join(out, "model.safetensors"))
    assert set(stored.values()) == {"F16"}
    W16 = {k: round_to_dtype(v, "F16") for k, v in W.items()}
    _same_logits(W16, cfg_out, out)


def test_no_decay_post_norm_decoder(tmp_path):
    cfg = base_config(gamma=None, prenorm=False, final_norm=None)
    W = random_weights(cfg, np.random.default_rng(3))
    args = dict(LM_ARGS, arch="tnn_v2_no_decay", use_decay=False, gamma=None, decoder_normalize_before=False)
    path = str(tmp_path / "checkpoint.pt")
    torch.save(_checkpoint(W, args=argparse.Namespace(**args)), path)
    out = str(tmp_path / "out")
    cfg_out = convert(path, out)
    assert cfg_out == cfg
    _same_logits(W, cfg, out)


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
    try:
        cfg = base_config()
        W = random_weights(cfg, np.random.default_rng(4))
        model_cfg = DictConfig({k: AnyNode(v) for k, v in LM_ARGS.items()})
        path = str(tmp_path / "checkpoint.pt")
        torch.save(_checkpoint(W, args=None, cfg=DictConfig({"model": model_cfg})), path)
    finally:
        del sys.modules[mod.__name__]
    with pytest.raises(Exception):
        torch.load(path, weights_only=False)  # the plain loader cannot find the class any more
    out = str(tmp_path / "out")
    cfg_out = convert(path, out)
    assert cfg_out["max_positions"] == 512 and cfg_out["prenorm"] is True


def test_unsupported_architecture_is_refused(tmp_path):
    cfg = base_config()
    W = random_weights(cfg, np.random.default_rng(5))
    path = str(tmp_path / "checkpoint.pt")
    torch.save(_checkpoint(W, args=argparse.Namespace(**dict(LM_ARGS, residual=True))), path)
    with pytest.raises(ConversionError, match="residual"):
        convert(path, str(tmp_path / "out"))
    assert main([path, str(tmp_path / "out2")]) == 1


def test_not_a_tnn_checkpoint(tmp_path):
    path = str(tmp_path / "checkpoint.pt")
    torch.save({"model": {"foo.weight": torch.zeros(2, 2)}}, path)
    with pytest.raises(ConversionError, match="embed_tokens"):
        convert(path, str(tmp_path / "out"))


def test_metadata_records_the_arch(tmp_path):
    cfg = base_config()
    W = random_weights(cfg, np.random.default_rng(6))
    path = str(tmp_path / "checkpoint.pt")
    torch.save(_checkpoint(W, args=argparse.Namespace(**LM_ARGS)), path)
    out = str(tmp_path / "out")
    convert(path, out)
    _, _, meta = load_file(os.path.join(out, "model.safetensors"))
    assert meta["arch"] == "tnn_v2_decay_99_pre" and meta["source"] == "checkpoint.pt"
