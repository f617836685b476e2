"""The causal TNN language model in PyTorch, for training (tools/train.py).

Written from the official model code's semantics. Module names are chosen so that ``state_dict()`` produces the
official fairseq parameter names (``decoder.layers.{i}.self_attn.gtu.toep.rpe.layers.{r}.2.weight`` and so on):
the Sequential(norm, act, Linear) shape of the RPE stages is what puts the ``.2.`` in those names.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class SimpleRMSNorm(nn.Module):
    """x / (||x|| / sqrt(d) + eps): the eps is added to the RMS, not under the square root."""

    def __init__(self, dim: int, eps: float = 1e-8):
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = x.norm(2, dim=-1, keepdim=True) * self.dim ** -0.5
        return x / (rms + self.eps)


class Rpe(nn.Module):
    def __init__(self, rpe_dim: int, out_dim: int, n_layers: int):
        super().__init__()
        self.pos_proj = nn.Linear(1, rpe_dim)
        self.layers = nn.ModuleList(
            [nn.Sequential(SimpleRMSNorm(rpe_dim), nn.ReLU(), nn.Linear(rpe_dim, rpe_dim)) for _ in range(n_layers)]
        )
        self.out = nn.Sequential(SimpleRMSNorm(rpe_dim), nn.ReLU(), nn.Linear(rpe_dim, out_dim))

    def forward(self, offsets: torch.Tensor) -> torch.Tensor:
        z = self.pos_proj(offsets.reshape(-1, 1))
        for stage in self.layers:
            z = stage(z)
        return self.out(z)


class Tno(nn.Module):
    """Causal depthwise Toeplitz mixing, computed as the official code does: rfft at length 2n."""

    def __init__(self, channels: int, n_heads: int, rpe_dim: int, rpe_layers: int, gamma):
        super().__init__()
        self.rpe = Rpe(rpe_dim, channels, rpe_layers)
        # Frozen decay, stored per channel as (h, 1, d1/h) like the official checkpoints; absent without decay.
        if gamma is not None:
            self.gamma = nn.Parameter(torch.full((n_heads, 1, channels // n_heads), gamma), requires_grad=False)
        else:
            self.gamma = None

    def coefficients(self, n: int) -> torch.Tensor:
        """t_0..t_{n-1} as [n, channels]; t_0 undecayed."""
        w = self.rpe.pos_proj.weight
        k = torch.arange(n, dtype=w.dtype, device=w.device)
        t = self.rpe(k)
        if self.gamma is None:
            return t
        lam = self.gamma.reshape(1, -1)
        decay = lam ** k.reshape(-1, 1)  # k = 0 gives 1: t_0 is not decayed
        return t * decay

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: [b, n, c]
        n = x.shape[1]
        t = self.coefficients(n)
        a = torch.cat([t, t[:1]], dim=0)  # [t_0, t_1..t_{n-1}, t_0]; slot n is never read
        xf = torch.fft.rfft(x, 2 * n, dim=1)
        af = torch.fft.rfft(a, 2 * n, dim=0)
        return torch.fft.irfft(xf * af.unsqueeze(0), 2 * n, dim=1)[:, :n]


class Gtu(nn.Module):
    def __init__(self, d: int, d1: int, n_heads: int, rpe_dim: int, rpe_layers: int, gamma: float):
        super().__init__()
        self.u_proj = nn.Linear(d, d1)
        self.v_proj = nn.Linear(d, d1)
        self.o = nn.Linear(d1, d)
        self.toep = Tno(d1, n_heads, rpe_dim, rpe_layers, gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = F.silu(self.u_proj(x))
        v = F.silu(self.v_proj(x))
        return self.o(u * self.toep(v))


class SelfAttnSlot(nn.Module):
    """Holds the GTU under ``self_attn.gtu`` only so the parameter names match fairseq's."""

    def __init__(self, gtu: Gtu):
        super().__init__()
        self.gtu = gtu


class Glu(nn.Module):
    def __init__(self, d: int, glu_dim: int):
        super().__init__()
        self.l1 = nn.Linear(d, glu_dim)
        self.l2 = nn.Linear(d, glu_dim)
        self.l3 = nn.Linear(glu_dim, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.l3(F.silu(self.l1(x)) * self.l2(x))


class PreNormBlock(nn.Module):
    def __init__(self, d: int, d1: int, n_heads: int, rpe_dim: int, rpe_layers: int, gamma: float, glu_dim: int):
        super().__init__()
        self.self_attn = SelfAttnSlot(Gtu(d, d1, n_heads, rpe_dim, rpe_layers, gamma))
        self.glu = Glu(d, glu_dim)
        self.norm = SimpleRMSNorm(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.self_attn.gtu(self.norm(x))
        return x + self.glu(self.norm(x))


class Decoder(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        d = cfg["d_model"]
        self.embed_scale = cfg["embed_scale"]
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], d)
        nn.init.normal_(self.embed_tokens.weight, mean=0.0, std=d ** -0.5)
        self.layers = nn.ModuleList(
            [
                PreNormBlock(
                    d,
                    d * cfg["expand_ratio"],
                    cfg["n_heads"],
                    cfg["rpe_dim"],
                    cfg["rpe_layers"],
                    cfg["gamma"],
                    cfg["glu_dim"],
                )
                for _ in range(cfg["n_layers"])
            ]
        )
        self.layer_norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed_tokens(ids) * self.embed_scale
        for layer in self.layers:
            x = layer(x)
        x = self.layer_norm(x)
        return x @ self.embed_tokens.weight.t()  # tied output projection, no bias


class CausalLM(nn.Module):
    """Top-level wrapper so the parameters are named ``decoder.*``."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.decoder = Decoder(cfg)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.decoder(ids)


def official_state_dict(model: CausalLM) -> dict:
    """state_dict under official names, with the tied output projection written out as fairseq does."""
    sd = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    sd["decoder.output_projection.weight"] = sd["decoder.embed_tokens.weight"]
    return sd


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def default_embed_scale(d: int) -> float:
    return math.sqrt(d)
