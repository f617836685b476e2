"""Train the shipped byte-level causal TNN on the King James Bible (Debian package bible-kjv-text).

Reproduce with:  python3 tools/train.py --out models/kjv-byte

Data: /usr/lib/bible.data from Debian's `bible-kjv-text` is a compressed random-access format, so the text is
extracted with the reader of the same source package (`bible-kjv`, /usr/bin/bible):
    apt-get install -y bible-kjv bible-kjv-text
    bible -m 8000 -l 100000 "Gen1:1-Rev22:21"
That prints every chapter as "Book N" between blank lines and each verse on one line as "  V text". We strip
the two-space verse indent and the leading blank line; the result is pure ASCII (4,236,034 bytes).
Split: the last books, Colossians .. Revelation (~5% of the bytes), are held out as the test split and written to
<out>/heldout.txt; training uses Genesis .. Philippians.

Tokens are bytes: id = byte value, vocabulary 256, no special tokens.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_file  # noqa: E402
from model_card import write_card  # noqa: E402
from tnn_torch import CausalLM, official_state_dict, param_count  # noqa: E402

HELDOUT_FIRST_BOOK = "Colossians"


def extract_kjv_text() -> str:
    if shutil.which("bible") is None:
        sys.exit("train.py: /usr/bin/bible not found; run `apt-get install -y bible-kjv bible-kjv-text` first")
    raw = subprocess.run(
        ["bible", "-m", "8000", "-l", "100000", "Gen1:1-Rev22:21"], check=True, capture_output=True
    ).stdout.decode("ascii")
    lines = raw.split("\n")
    out = [l[2:] if l.startswith("  ") else l for l in lines]
    text = "\n".join(out).lstrip("\n")
    if not text.startswith("Genesis 1\n"):
        sys.exit("train.py: unexpected output from `bible`; is bible-kjv-text installed?")
    return text


def split_heldout(text: str) -> tuple[str, str]:
    m = re.search(rf"^{HELDOUT_FIRST_BOOK} 1$", text, flags=re.M)
    if m is None:
        sys.exit(f"train.py: book heading '{HELDOUT_FIRST_BOOK} 1' not found")
    return text[: m.start()], text[m.start() :]


def model_config(args) -> dict:
    return {
        "d_model": args.d_model,
        "n_layers": args.layers,
        "expand_ratio": args.expand_ratio,
        "n_heads": 1,
        "rpe_dim": args.rpe_dim,
        "rpe_layers": args.rpe_layers,
        "gamma": args.gamma,
        "causal": True,
        "prenorm": True,
        "glu_dim": args.d_model,
        "vocab_size": 256,
        "pad_index": None,
        "embed_scale": math.sqrt(args.d_model),
        "final_norm": "layernorm",
        "embedding_layernorm": False,
        "lm_head": "tied",
        "max_positions": args.block,
    }


@torch.no_grad()
def evaluate(model, data: np.ndarray, block: int, max_blocks: int) -> float:
    """Mean cross-entropy (nats/byte) over consecutive non-overlapping blocks of the held-out text."""
    model.eval()
    n_blocks = min((len(data) - 1) // block, max_blocks)
    total, count = 0.0, 0
    for s in range(0, n_blocks, 8):
        idx = range(s, min(n_blocks, s + 8))
        x = torch.stack([torch.from_numpy(data[i * block : i * block + block].astype(np.int64)) for i in idx])
        y = torch.stack([torch.from_numpy(data[i * block + 1 : i * block + block + 1].astype(np.int64)) for i in idx])
        logits = model(x)
        total += F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1), reduction="sum").item()
        count += y.numel()
    model.train()
    return total / count


def lr_at(step: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    p = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--expand-ratio", type=int, default=3)
    ap.add_argument("--rpe-dim", type=int, default=32)
    ap.add_argument("--rpe-layers", type=int, default=3)
    ap.add_argument("--gamma", type=float, default=0.99)
    ap.add_argument("--block", type=int, default=512)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3200)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-blocks", type=int, default=128, help="held-out 512-byte blocks per evaluation")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)

    text = extract_kjv_text()
    train_text, test_text = split_heldout(text)
    train = np.frombuffer(train_text.encode("ascii"), dtype=np.uint8)
    test = np.frombuffer(test_text.encode("ascii"), dtype=np.uint8)
    with open(os.path.join(args.out, "heldout.txt"), "w", encoding="ascii", newline="\n") as f:
        f.write(test_text)
    print(f"text {len(text)} bytes: train {len(train)}, held-out {len(test)} ({HELDOUT_FIRST_BOOK}..Revelation)",
          flush=True)

    cfg = model_config(args)
    model = CausalLM(cfg)
    n_params = param_count(model) - sum(p.numel() for n, p in model.named_parameters() if n.endswith("gamma"))
    print(f"trainable parameters: {n_params}", flush=True)

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (decay if p.dim() >= 2 and "embed" not in n else no_decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.98), eps=1e-8,
    )

    curve = []  # (step, train loss (mean since last eval), test loss), nats/byte
    t0 = time.time()
    cpu0 = time.process_time()
    running, running_n = 0.0, 0
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        starts = rng.integers(0, len(train) - args.block - 1, size=args.batch)
        chunk = np.stack([train[s : s + args.block + 1] for s in starts]).astype(np.int64)
        x = torch.from_numpy(chunk[:, :-1])
        y = torch.from_numpy(chunk[:, 1:])
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running += loss.item()
        running_n += 1
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            test_loss = evaluate(model, test, args.block, args.eval_blocks)
            tr = running / running_n
            running, running_n = 0.0, 0
            curve.append((step + 1, tr, test_loss))
            el = time.time() - t0
            print(f"step {step + 1}/{args.steps} train {tr:.4f} test {test_loss:.4f} nats/byte "
                  f"({test_loss / math.log(2):.4f} bits/byte) lr {lr_at(step, args):.2e} {el:.0f}s", flush=True)
    train_seconds = time.time() - t0
    train_cpu_seconds = time.process_time() - cpu0

    final_test = evaluate(model, test, args.block, 10 ** 9)
    print(f"final held-out loss over all 512-byte blocks: {final_test:.4f} nats/byte "
          f"= {final_test / math.log(2):.4f} bits/byte", flush=True)

    sd = official_state_dict(model)
    tensors = {k: v.numpy().astype(np.float32) for k, v in sd.items()}
    meta = {"format": "pt", "source": "tnn tools/train.py", "data": "Debian bible-kjv-text (KJV, public domain)"}
    save_file(tensors, os.path.join(args.out, "model.safetensors"), dtype="F16", metadata=meta)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    record = {
        "args": vars(args),
        "trainable_parameters": n_params,
        "train_seconds": train_seconds,
        "train_cpu_seconds": train_cpu_seconds,
        "torch_version": torch.__version__,
        "curve": [{"step": s, "train_loss": a, "test_loss": b} for s, a, b in curve],
        "final_test_loss_all_blocks": final_test,
        "train_bytes": int(len(train)),
        "heldout_bytes": int(len(test)),
    }
    with open(os.path.join(args.out, "training.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    write_card(args.out)
    print(f"done in {train_seconds:.0f}s; wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
