"""Checks of the shipped model models/kjv-byte: official names, F16 storage, and agreement between the float64
reference and the PyTorch model it was trained as."""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import reference as R  # noqa: E402
from safetensors_io import load_file  # noqa: E402

MODEL = os.path.join(HERE, "..", "models", "kjv-byte")
pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(MODEL, "model.safetensors")),
                                reason="models/kjv-byte not trained yet")


def _load():
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    W, stored, _ = load_file(os.path.join(MODEL, "model.safetensors"))
    return cfg, W, stored


def _expected_names(cfg):
    names = {"decoder.embed_tokens.weight", "decoder.output_projection.weight", "decoder.layer_norm.weight",
             "decoder.layer_norm.bias"}
    for i in range(cfg["n_layers"]):
        g = f"decoder.layers.{i}.self_attn.gtu."
        for lin in ["u_proj", "v_proj", "o", "toep.rpe.pos_proj", "toep.rpe.out.2"] + \
                   [f"toep.rpe.layers.{r}.2" for r in range(cfg["rpe_layers"])]:
            names |= {g + lin + ".weight", g + lin + ".bias"}
        names.add(g + "toep.gamma")
        for lin in ["l1", "l2", "l3"]:
            names |= {f"decoder.layers.{i}.glu.{lin}.weight", f"decoder.layers.{i}.glu.{lin}.bias"}
    return names


def test_names_shapes_and_dtype():
    cfg, W, stored = _load()
    assert set(W) == _expected_names(cfg)
    assert set(stored.values()) == {"F16"}
    d, d1 = cfg["d_model"], cfg["d_model"] * cfg["expand_ratio"]
    assert W["decoder.embed_tokens.weight"].shape == (256, d)
    assert W["decoder.layers.0.self_attn.gtu.toep.gamma"].shape == (cfg["n_heads"], 1, d1 // cfg["n_heads"])
    np.testing.assert_array_equal(W["decoder.output_projection.weight"], W["decoder.embed_tokens.weight"])
    assert cfg["causal"] and cfg["prenorm"] and cfg["lm_head"] == "tied" and cfg["final_norm"] == "layernorm"
    assert cfg["embed_scale"] == pytest.approx(math.sqrt(d))


def test_reference_and_pytorch_agree_on_heldout_text():
    torch = pytest.importorskip("torch")
    from tnn_torch import CausalLM

    cfg, W, _ = _load()
    model = CausalLM(cfg)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in W.items() if k != "decoder.output_projection.weight"})
    text = open(os.path.join(MODEL, "heldout.txt"), "rb").read()
    ids = np.frombuffer(text[:1024], dtype=np.uint8).astype(np.int64)
    want = R.logits(W, cfg, ids)
    with torch.no_grad():
        got = model(torch.from_numpy(ids)[None])[0].numpy()
    assert np.abs(got - want).max() < 1e-4 * np.abs(want).max()


def test_the_model_has_learned_english():
    cfg, W, _ = _load()
    text = open(os.path.join(MODEL, "heldout.txt"), "rb").read()
    ids = np.frombuffer(text[:2049], dtype=np.uint8).astype(np.int64)
    z = R.logits(W, cfg, ids[:-1])
    lp = z - z.max(-1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    bpb = -lp[np.arange(2048), ids[1:]].mean() / math.log(2)
    assert bpb < 2.5, bpb  # an untrained byte model scores about 8
