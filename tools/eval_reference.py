"""Float64 reference evaluation of a byte-level causal TNN: bits per byte on held-out text.

    python3 tools/eval_reference.py [--model models/kjv-byte] [--text models/kjv-byte/heldout.txt]
                                    [--lengths 512,2048] [--max-windows N] [--gamma-override 1.0]

Uses tools/reference.py (numpy, float64) on the weights exactly as stored, so the TypeScript library's
`tnn eval` can be compared with it.

Windows, for context length L: the text's bytes b are cut into consecutive non-overlapping windows starting at
s = 0, L, 2L, ... while s + L + 1 <= len(b); the model reads b[s : s+L] and is scored on predicting
b[s+1 : s+L+1], every position counting (so position i sees i+1 bytes of context). bits/byte =
Σ −log2 p(target) / (number of targets). Perplexity is reported per byte: 2^(bits/byte).
--gamma-override replaces every stored λ (1.0 = decay removed: the control of the length-extrapolation table).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as R  # noqa: E402
from safetensors_io import load_file  # noqa: E402


def log_softmax(z: np.ndarray) -> np.ndarray:
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def windows(data: np.ndarray, length: int, max_windows: int | None):
    count = (len(data) - 1) // length
    if max_windows is not None:
        count = min(count, max_windows)
    for w in range(count):
        s = w * length
        yield data[s : s + length], data[s + 1 : s + length + 1]


def evaluate(W, cfg, data: np.ndarray, length: int, max_windows: int | None, progress: bool = True) -> dict:
    total_bits, count, n_windows = 0.0, 0, 0
    t0 = time.time()
    for x, y in windows(data, length, max_windows):
        lp = log_softmax(R.logits(W, cfg, x))
        total_bits -= lp[np.arange(length), y].sum() / math.log(2)
        count += length
        n_windows += 1
        if progress:
            print(f"  L={length}: window {n_windows} running {total_bits / count:.4f} bits/byte "
                  f"({time.time() - t0:.0f}s)", file=sys.stderr, flush=True)
    if n_windows == 0:
        raise SystemExit(f"eval_reference: text of {len(data)} bytes is too short for one window of {length}")
    bpb = total_bits / count
    return {"length": length, "windows": n_windows, "tokens": count, "bits_per_byte": bpb,
            "perplexity_per_byte": 2 ** bpb, "seconds": time.time() - t0}


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    default_model = os.path.join(here, "..", "models", "kjv-byte")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=default_model, help="directory with model.safetensors and config.json")
    ap.add_argument("--text", default=None, help="text file (default: <model>/heldout.txt)")
    ap.add_argument("--lengths", default="512,2048")
    ap.add_argument("--max-windows", type=int, default=None)
    ap.add_argument("--gamma-override", type=float, default=None)
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()

    cfg = json.load(open(os.path.join(args.model, "config.json")))
    if cfg["vocab_size"] != 256 or not cfg["causal"]:
        raise SystemExit("eval_reference: expects a byte-level (vocab 256) causal model")
    W, _, _ = load_file(os.path.join(args.model, "model.safetensors"))
    W = R.widen(W)
    if args.gamma_override is not None:
        W = {k: (np.full_like(v, args.gamma_override) if k.endswith("toep.gamma") else v) for k, v in W.items()}
    text_path = args.text or os.path.join(args.model, "heldout.txt")
    data = np.frombuffer(open(text_path, "rb").read(), dtype=np.uint8).astype(np.int64)

    results = []
    for length in [int(v) for v in args.lengths.split(",")]:
        r = evaluate(W, cfg, data, length, args.max_windows, progress=not args.quiet)
        r["gamma_override"] = args.gamma_override
        results.append(r)
        print(f"L={length:6d}  windows={r['windows']:4d}  bits/byte={r['bits_per_byte']:.5f}  "
              f"ppl/byte={r['perplexity_per_byte']:.4f}  ({r['seconds']:.0f}s)", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": os.path.abspath(args.model), "text": os.path.abspath(text_path), "results": results},
                      f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
