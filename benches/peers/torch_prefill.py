"""PyTorch peer of benches/threads.mjs: prefill of a causal TNN on native CPU PyTorch at a given thread count.

The model is the project's own PyTorch TNN (tools/tnn_torch.py: the official modules' semantics, the official
parameter names), so the same safetensors file loads into it and into tnn. Prefill is what the tnn side times: the
hidden states of all n positions (every layer and the final LayerNorm), no head.

Usage: python benches/peers/torch_prefill.py --weights FILE --config FILE --threads T --n 512,2048
Prints one JSON line: [{"n": 512, "seconds": 0.41}, ...] (one timed run per n after a warm-up at half the smallest
n, as the tnn side does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))

import torch  # noqa: E402

from safetensors_io import load_file  # noqa: E402
from tnn_torch import CausalLM  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--weights", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--n", required=True)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    with open(a.config) as f:
        cfg = json.load(f)
    model = CausalLM(cfg).eval()
    tensors, _, _ = load_file(a.weights)
    state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items() if not k.startswith("decoder.output_projection")}
    model.load_state_dict(state)
    ns = [int(n) for n in a.n.split(",")]
    g = torch.Generator().manual_seed(12345)
    out = []
    with torch.inference_mode():
        dec = model.decoder

        def hidden(ids: torch.Tensor) -> torch.Tensor:
            x = dec.embed_tokens(ids) * dec.embed_scale
            for layer in dec.layers:
                x = layer(x)
            return dec.layer_norm(x)

        hidden(torch.randint(0, cfg["vocab_size"], (1, max(1, min(ns) // 2)), generator=g))
        for n in ns:
            ids = torch.randint(0, cfg["vocab_size"], (1, n), generator=g)
            t0 = time.perf_counter()
            hidden(ids)
            out.append({"n": n, "seconds": time.perf_counter() - t0})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
