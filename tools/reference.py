"""Independent float64 numpy reference of the Toeplitz Neural Network.

Written directly from the official model code's semantics (not from the TypeScript or Rust code), so golden
fixtures computed here can check the library. Everything is float64; weights stored in lower precision are
widened as stored.

Config: a dict with the keys documented in tools/README.md (d_model, n_layers, expand_ratio, n_heads, rpe_dim,
rpe_layers, gamma, causal, prenorm, glu_dim, vocab_size, pad_index, embed_scale, final_norm,
embedding_layernorm, lm_head, max_positions).
Weights: a dict of arrays under the official fairseq names (``decoder.*`` for lm_head "tied",
``encoder.sentence_encoder.*`` + ``encoder.lm_head.*`` for lm_head "mlm").
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Optional

import numpy as np

SRMS_EPS = 1e-8
LAYER_NORM_EPS = 1e-5


def body_prefix(cfg: Mapping) -> str:
    return "decoder." if cfg["lm_head"] == "tied" else "encoder.sentence_encoder."


# --- elementary functions -------------------------------------------------------------------------------------

def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def gelu_erf(x: np.ndarray) -> np.ndarray:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def simple_rms_norm(x: np.ndarray, eps: float = SRMS_EPS) -> np.ndarray:
    """x / (||x||_2 / sqrt(dim) + eps): eps is added to the RMS, not inside the square root; no parameters."""
    rms = np.linalg.norm(x, axis=-1, keepdims=True) / math.sqrt(x.shape[-1])
    return x / (rms + eps)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = LAYER_NORM_EPS) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased variance, as torch.nn.LayerNorm
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def linear(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray]) -> np.ndarray:
    """PyTorch layout: w is (out, in)."""
    y = x @ w.T
    return y if b is None else y + b


# --- RPE and Toeplitz coefficients ----------------------------------------------------------------------------

def rpe(W: Mapping[str, np.ndarray], prefix: str, rpe_layers: int, offsets: np.ndarray) -> np.ndarray:
    """RPE MLP evaluated at the raw signed integer offsets (as floats): returns [len(offsets), d1]."""
    k = np.asarray(offsets, dtype=np.float64).reshape(-1, 1)
    z = linear(k, W[prefix + "pos_proj.weight"], W[prefix + "pos_proj.bias"])
    for r in range(rpe_layers):
        z = linear(relu(simple_rms_norm(z)), W[f"{prefix}layers.{r}.2.weight"], W[f"{prefix}layers.{r}.2.bias"])
    return linear(relu(simple_rms_norm(z)), W[prefix + "out.2.weight"], W[prefix + "out.2.bias"])


def toeplitz_coefficients(W, toep_prefix: str, cfg: Mapping, n: int) -> Dict[str, np.ndarray]:
    """t_k for k = 0..n-1 ("pos", row k) and, when bidirectional, t_{-k} for k = 1..n-1 ("neg", row k-1).

    t_0 = RPE(0) is never decayed; t_{±k} = λ^k RPE(±k) for k ≥ 1, with λ per channel from toep.gamma
    (shape (h, 1, d1/h), channel c = head * (d1/h) + j, i.e. the C-order flattening).
    """
    rpe_prefix = toep_prefix + "rpe."
    R = cfg["rpe_layers"]
    ks = np.arange(n, dtype=np.float64)
    pos = rpe(W, rpe_prefix, R, ks)
    gamma_key = toep_prefix + "gamma"
    lam = None
    if cfg["gamma"] is not None:
        lam = np.asarray(W[gamma_key], dtype=np.float64).reshape(-1)
        pos[1:] *= lam[None, :] ** ks[1:, None]
    out = {"pos": pos}
    if not cfg["causal"]:
        neg = rpe(W, rpe_prefix, R, -ks[1:])
        if lam is not None:
            neg *= lam[None, :] ** ks[1:, None]
        out["neg"] = neg
    return out


def tno_fft(x: np.ndarray, coeffs: Mapping[str, np.ndarray], causal: bool) -> np.ndarray:
    """y_i[c] = Σ_j t_{i-j}[c] x_j[c] for x of shape [n, c], by a zero-padded length-2n FFT in float64.

    Kernel layout as the official code: causal [t_0, t_1..t_{n-1}, t_0, 0...], bidirectional
    [t_0, t_1..t_{n-1}, t_0, t_{-(n-1)}..t_{-1}]; slot n is never read for outputs 0..n-1.
    """
    n, c = x.shape
    pos = coeffs["pos"]
    if causal:
        a = np.concatenate([pos, pos[:1]], axis=0)
    else:
        neg = coeffs["neg"]  # row k-1 holds t_{-k}
        a = np.concatenate([pos, pos[:1], neg[::-1]], axis=0)
    X = np.fft.rfft(x, 2 * n, axis=0)
    A = np.fft.rfft(a, 2 * n, axis=0)
    return np.fft.irfft(X * A, 2 * n, axis=0)[:n]


def tno_direct(x: np.ndarray, coeffs: Mapping[str, np.ndarray], causal: bool) -> np.ndarray:
    """The same product by the O(n²) definition, for testing tno_fft."""
    n, c = x.shape
    y = np.zeros_like(x)
    pos = coeffs["pos"]
    for i in range(n):
        for j in range(n):
            k = i - j
            if k >= 0:
                y[i] += pos[k] * x[j]
            elif not causal:
                y[i] += coeffs["neg"][-k - 1] * x[j]
    return y


# --- blocks ---------------------------------------------------------------------------------------------------

def gtu(W, p: str, cfg: Mapping, x: np.ndarray, tno=tno_fft) -> np.ndarray:
    """x: [n, d] -> [n, d]. u = SiLU(W_u x + b_u), v = SiLU(W_v x + b_v), out = W_o (u ⊙ TNO(v)) + b_o."""
    g = p + "self_attn.gtu."
    u = silu(linear(x, W[g + "u_proj.weight"], W[g + "u_proj.bias"]))
    v = silu(linear(x, W[g + "v_proj.weight"], W[g + "v_proj.bias"]))
    coeffs = toeplitz_coefficients(W, g + "toep.", cfg, x.shape[0])
    y = tno(v, coeffs, cfg["causal"])
    return linear(u * y, W[g + "o.weight"], W[g + "o.bias"])


def glu(W, p: str, x: np.ndarray) -> np.ndarray:
    h1 = silu(linear(x, W[p + "glu.l1.weight"], W[p + "glu.l1.bias"]))
    h2 = linear(x, W[p + "glu.l2.weight"], W[p + "glu.l2.bias"])
    return linear(h1 * h2, W[p + "glu.l3.weight"], W[p + "glu.l3.bias"])


def block(W, p: str, cfg: Mapping, x: np.ndarray, tno=tno_fft) -> np.ndarray:
    if cfg["prenorm"]:
        x = x + gtu(W, p, cfg, simple_rms_norm(x), tno)
        return x + glu(W, p, simple_rms_norm(x))
    x = simple_rms_norm(x + gtu(W, p, cfg, x, tno))
    return simple_rms_norm(x + glu(W, p, x))


# --- whole model ----------------------------------------------------------------------------------------------

def widen(weights: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}


def hidden_states(W: Mapping[str, np.ndarray], cfg: Mapping, ids, tno=tno_fft) -> np.ndarray:
    """Final hidden states [n, d] for one sequence of token ids (before the head)."""
    P = body_prefix(cfg)
    ids = np.asarray(ids, dtype=np.int64)
    x = W[P + "embed_tokens.weight"][ids] * float(cfg["embed_scale"])
    if cfg["embedding_layernorm"]:
        x = layer_norm(x, W[P + "layernorm_embedding.weight"], W[P + "layernorm_embedding.bias"])
    if cfg["lm_head"] == "mlm" and cfg.get("pad_index") is not None:
        # fairseq's TransformerEncoder zeroes padded positions once, right after the embedding (and its LayerNorm).
        x = x * (ids != cfg["pad_index"])[:, None]
    for i in range(cfg["n_layers"]):
        x = block(W, f"{P}layers.{i}.", cfg, x, tno)
    if cfg["final_norm"] == "layernorm":
        x = layer_norm(x, W[P + "layer_norm.weight"], W[P + "layer_norm.bias"])
    elif cfg["final_norm"] is not None:
        raise ValueError(f"unknown final_norm {cfg['final_norm']!r}")
    return x


def head(W: Mapping[str, np.ndarray], cfg: Mapping, h: np.ndarray) -> np.ndarray:
    if cfg["lm_head"] == "tied":
        E = W.get("decoder.output_projection.weight", W["decoder.embed_tokens.weight"])
        return h @ E.T
    if cfg["lm_head"] == "mlm":
        z = linear(h, W["encoder.lm_head.dense.weight"], W["encoder.lm_head.dense.bias"])
        z = layer_norm(gelu_erf(z), W["encoder.lm_head.layer_norm.weight"], W["encoder.lm_head.layer_norm.bias"])
        E = W.get("encoder.lm_head.weight", W["encoder.sentence_encoder.embed_tokens.weight"])
        return z @ E.T + W["encoder.lm_head.bias"]
    raise ValueError(f"unknown lm_head {cfg['lm_head']!r}")


def logits(weights: Mapping[str, np.ndarray], cfg: Mapping, ids, positions=None, tno=tno_fft) -> np.ndarray:
    """Logits [n, V] (or [len(positions), V]) for one sequence, or [b, ., V] for a list of equal-length ones."""
    W = weights if all(v.dtype == np.float64 for v in weights.values()) else widen(weights)
    ids = np.asarray(ids)
    if ids.ndim == 2:
        return np.stack([logits(W, cfg, row, positions, tno) for row in ids])
    h = hidden_states(W, cfg, ids, tno)
    if positions is not None:
        h = h[np.asarray(positions)]
    return head(W, cfg, h)
