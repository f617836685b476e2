"""Generate the golden fixtures under test/fixtures/<case>/ from tiny random models and tools/reference.py.

    python3 tools/make_fixtures.py [--out test/fixtures]

Each case directory holds
    model.safetensors  weights under the official fairseq names (F32 unless the case says F16/BF16)
    config.json        the model config (schema in tools/README.md)
    input.json         {"ids": [[...], ...] (batch, always 2-D), "positions": null | [...],
                        "logits_shape": [batch, positions or n, vocab], "max_abs_logit": float,
                        "weights_dtype": "F32" | "F16" | "BF16", "description": str,
                        "config_from_names": bool (true when the official arch defaults applied to the tensor
                        names/shapes give config.json, i.e. the case also serves to test loading without it)}
    logits.bin         float32 little-endian, C order, shape logits_shape: the float64 reference logits for
                       every sequence at every position (positions null) or at the listed positions only.
The reference is computed in float64 from exactly the values stored in model.safetensors (after F16/BF16
rounding), so the only expected difference is the library's own float32 arithmetic.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402
from safetensors_io import round_to_dtype, save_file  # noqa: E402


def base_config(**kw) -> dict:
    cfg = {
        "d_model": 32,
        "n_layers": 2,
        "expand_ratio": 3,
        "n_heads": 1,
        "rpe_dim": 16,
        "rpe_layers": 2,
        "gamma": 0.99,
        "causal": True,
        "prenorm": True,
        "glu_dim": 32,
        "vocab_size": 64,
        "pad_index": 1,
        "embed_scale": None,  # filled below: sqrt(d) for the decoder, 1 for the encoder
        "final_norm": "layernorm",
        "embedding_layernorm": False,
        "lm_head": "tied",
        "max_positions": 512,
    }
    cfg.update(kw)
    if cfg["embed_scale"] is None:
        cfg["embed_scale"] = math.sqrt(cfg["d_model"]) if cfg["lm_head"] == "tied" else 1.0
    return cfg


def encoder_config(**kw) -> dict:
    defaults = dict(causal=False, prenorm=False, final_norm=None, embedding_layernorm=True, lm_head="mlm")
    defaults.update(kw)
    return base_config(**defaults)


def random_weights(cfg: dict, rng: np.random.Generator, gamma_range=(0.9, 0.99), omit_output_projection=False):
    """Random float32 weights under the official names, at scales that give logits of order 1..10."""
    d, V = cfg["d_model"], cfg["vocab_size"]
    d1 = d * cfg["expand_ratio"]
    h, e, R, g = cfg["n_heads"], cfg["rpe_dim"], cfg["rpe_layers"], cfg["glu_dim"]
    W = {}

    def lin(name, out_dim, in_dim, gain=1.0):
        bound = gain / math.sqrt(in_dim)
        W[name + ".weight"] = rng.uniform(-bound, bound, size=(out_dim, in_dim))
        W[name + ".bias"] = rng.uniform(-bound, bound, size=(out_dim,))

    def norm(name, dim):
        W[name + ".weight"] = 1.0 + 0.2 * rng.standard_normal(dim)
        W[name + ".bias"] = 0.1 * rng.standard_normal(dim)

    decoder = cfg["lm_head"] == "tied"
    P = reference.body_prefix(cfg)
    emb = rng.standard_normal((V, d)) * (2.0 / math.sqrt(d) if decoder else 1.0)
    emb[cfg["pad_index"]] = 0.0  # fairseq zeroes the padding row at init
    W[P + "embed_tokens.weight"] = emb
    if cfg["embedding_layernorm"]:
        norm(P + "layernorm_embedding", d)
    for i in range(cfg["n_layers"]):
        p = f"{P}layers.{i}.self_attn.gtu."
        lin(p + "u_proj", d1, d)
        lin(p + "v_proj", d1, d)
        lin(p + "o", d, d1)
        if cfg["gamma"] is not None:
            W[p + "toep.gamma"] = rng.uniform(*gamma_range, size=(h, 1, d1 // h))
        lin(p + "toep.rpe.pos_proj", e, 1)
        for r in range(R):
            lin(f"{p}toep.rpe.layers.{r}.2", e, e)
        # Scaled down so that TNO outputs (sums of up to ~100 decayed terms) stay of order 1..10.
        lin(p + "toep.rpe.out.2", d1, e, gain=0.3)
        q = f"{P}layers.{i}.glu."
        lin(q + "l1", g, d)
        lin(q + "l2", g, d)
        lin(q + "l3", d, g)
    if cfg["final_norm"] == "layernorm":
        norm(P + "layer_norm", d)
    if decoder:
        if not omit_output_projection:
            W["decoder.output_projection.weight"] = emb.copy()
        W["decoder.version"] = np.array([3.0])
    else:
        W["encoder.sentence_encoder.version"] = np.array([3.0])
        lin("encoder.lm_head.dense", d, d)
        norm("encoder.lm_head.layer_norm", d)
        W["encoder.lm_head.weight"] = emb.copy()
        W["encoder.lm_head.bias"] = 0.1 * rng.standard_normal(V)
    return {k: v.astype(np.float32) for k, v in W.items()}


def pick_positions(n: int, count: int, rng: np.random.Generator) -> list:
    """First and last 8 positions plus random ones in between, sorted."""
    ends = set(range(min(8, n))) | set(range(max(0, n - 8), n))
    middle = [p for p in range(n) if p not in ends]
    extra = rng.choice(middle, size=max(0, min(len(middle), count - len(ends))), replace=False)
    return sorted(int(p) for p in ends | set(extra.tolist()))


CASES = [
    # name, config, n, batch, kwargs
    ("lm_pre_h1_decay", base_config(), 64, 2, {}),
    ("lm_pre_h2_decay_n300", base_config(d_model=24, glu_dim=24, n_heads=2, vocab_size=50, rpe_layers=3), 300, 1, {}),
    ("lm_pre_h1_nodecay_n1024", base_config(d_model=16, glu_dim=16, gamma=None, vocab_size=40), 1024, 1,
     {"positions": 64}),
    ("lm_post_h1_decay", base_config(prenorm=False, final_norm=None), 128, 1, {}),
    ("lm_pre_h1_decay_tied_omitted", base_config(d_model=16, glu_dim=16), 100, 1, {"omit_output_projection": True}),
    ("lm_pre_h1_decay_f16", base_config(), 128, 1, {"dtype": "F16"}),
    ("lm_pre_h1_decay_n2048", base_config(d_model=16, glu_dim=16, vocab_size=48), 2048, 1, {"positions": 96}),
    ("lm_pre_h2_decay_n8192", base_config(d_model=16, glu_dim=16, n_heads=2, vocab_size=48), 8192, 1,
     {"positions": 96, "gamma_range": (0.99, 0.999)}),
    ("enc_post_h1_decay", encoder_config(), 64, 2, {}),
    ("enc_post_h2_nodecay_n256", encoder_config(d_model=24, glu_dim=24, n_heads=2, gamma=None, vocab_size=48,
                                                rpe_layers=1), 256, 1, {}),
    ("enc_pre_h2_decay", encoder_config(prenorm=True, final_norm="layernorm", n_heads=2, glu_dim=48), 150, 1, {}),
    ("enc_post_h2_decay_n2048", encoder_config(d_model=16, glu_dim=16, n_heads=2, vocab_size=48), 2048, 2,
     {"positions": 64}),
    ("enc_post_h1_decay_bf16", encoder_config(d_model=24, glu_dim=24, vocab_size=50), 96, 1, {"dtype": "BF16"}),
]


def describe(cfg: dict, n: int, batch: int, kw: dict) -> str:
    kind = "causal LM (decoder.*)" if cfg["lm_head"] == "tied" else "bidirectional encoder with MLM head"
    parts = [kind, "pre-norm" if cfg["prenorm"] else "post-norm", f"{cfg['n_heads']} head(s)",
             "no decay" if cfg["gamma"] is None else f"decay λ∈{kw.get('gamma_range', (0.9, 0.99))} per channel",
             f"n={n}", f"batch={batch}"]
    if kw.get("omit_output_projection"):
        parts.append("decoder.output_projection.weight omitted (tied)")
    if kw.get("dtype"):
        parts.append(f"weights stored as {kw['dtype']}")
    return ", ".join(parts)


def config_from_names_matches(W: dict, cfg: dict) -> bool:
    """Whether the official arch defaults applied to these names/shapes give this config (a loader given no
    config.json should then reproduce the logits). gamma is compared only as decay on/off."""
    from convert_fairseq import infer_config

    inferred = infer_config(W, {})
    same = all(inferred[k] == cfg[k] for k in cfg if k not in ("gamma", "max_positions", "embed_scale"))
    same = same and math.isclose(inferred["embed_scale"], cfg["embed_scale"], rel_tol=1e-12)
    return same and (inferred["gamma"] is None) == (cfg["gamma"] is None)


def make_case(out_dir: str, name: str, cfg: dict, n: int, batch: int, kw: dict, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    dtype = kw.get("dtype", "F32")
    W = random_weights(cfg, rng, kw.get("gamma_range", (0.9, 0.99)), kw.get("omit_output_projection", False))
    W = {k: round_to_dtype(v, dtype) for k, v in W.items()}
    ids = rng.integers(0, cfg["vocab_size"], size=(batch, n))
    positions = pick_positions(n, kw["positions"], rng) if "positions" in kw else None
    out = reference.logits(W, cfg, ids, positions)
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    save_file(W, os.path.join(d, "model.safetensors"), dtype=dtype, metadata={"format": "pt"})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    meta = {
        "description": describe(cfg, n, batch, kw),
        "weights_dtype": dtype,
        "ids": ids.tolist(),
        "positions": positions,
        "logits_shape": list(out.shape),
        "max_abs_logit": float(np.abs(out).max()),
    }
    meta["config_from_names"] = config_from_names_matches(W, cfg)
    with open(os.path.join(d, "input.json"), "w") as f:
        json.dump(meta, f, separators=(",", ":"))
        f.write("\n")
    out.astype("<f4").tofile(os.path.join(d, "logits.bin"))
    return {"name": name, "shape": list(out.shape), "max_abs": meta["max_abs_logit"], "std": float(out.std())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                                                  "fixtures"))
    ap.add_argument("--only", default=None, help="comma-separated case names")
    args = ap.parse_args()
    only = set(args.only.split(",")) if args.only else None
    for i, (name, cfg, n, batch, kw) in enumerate(CASES):
        if only and name not in only:
            continue
        info = make_case(args.out, name, cfg, n, batch, kw, seed=1000 + i)
        print(f"{info['name']}: logits {info['shape']} max|.| {info['max_abs']:.3f} std {info['std']:.3f}",
              flush=True)


if __name__ == "__main__":
    main()
