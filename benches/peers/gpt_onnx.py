"""A GPT-2-style transformer the size of the paper TNN LM, exported to ONNX, as the prefill benchmark's peer.

The model: pre-LayerNorm decoder, d_model 512, 7 layers, 8 heads, MLP 2048 with GELU, learned positional embeddings
(--max-positions of them), final LayerNorm, output head tied to the token embedding, vocabulary 50,264; random
weights, seeded (speed does not depend on the values). Attention is dense and causal (scaled_dot_product_attention
with is_causal, which the exporter lowers to MatMul + mask + Softmax), so its cost is the quadratic one a plain
transformer pays.

Input `input_ids` int64 [1, n] with n dynamic; output `logits` float32 [1, 50264] for the last position only: a
prefill pushes all n positions through every layer, but only the last row needs the head (as TNN's prefill does).

Usage: /opt/torchenv/bin/python benches/peers/gpt_onnx.py OUT.onnx [--max-positions 16384] [--seed 1]

Needs torch (CPU is enough), onnx and onnxscript (torch's dynamo exporter); onnxruntime (python) for the check that
the ONNX output equals torch's, skipped with a note when it is missing:
  /opt/torchenv/bin/pip install onnx onnxscript onnxruntime
"""

import argparse
import os

import torch
from torch import nn
from torch.nn import functional as F

VOCAB, D, LAYERS, HEADS, MLP = 50264, 512, 7, 8, 2048


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)
        self.ln2 = nn.LayerNorm(D)
        self.fc = nn.Linear(D, MLP)
        self.out = nn.Linear(MLP, D)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)
        # [b, n, D] -> [b, HEADS, n, D / HEADS]
        q, k, v = (t.view(b, n, HEADS, D // HEADS).transpose(1, 2) for t in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, D))
        # GPT-2's GELU is the tanh approximation.
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, max_positions):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, D)
        self.pos = nn.Embedding(max_positions, D)
        self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
        self.ln_f = nn.LayerNorm(D)
        # GPT-2's initialisation; LayerNorms keep ones and zeros.
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, input_ids):
        n = input_ids.shape[1]
        x = self.tok(input_ids) + self.pos(torch.arange(n, device=input_ids.device))
        for blk in self.blocks:
            x = blk(x)
        # Only the last position goes through the final norm and the tied head.
        return self.ln_f(x[:, -1]) @ self.tok.weight.T


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="the .onnx file to write")
    ap.add_argument("--max-positions", type=int, default=16384)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    model = GPT(args.max_positions).eval()
    total = sum(p.numel() for p in model.parameters())
    print(f"parameters: {total:,} ({total - model.pos.weight.numel():,} without the positional table)")

    example = torch.randint(0, VOCAB, (1, 64))
    n = torch.export.Dim("n", min=2, max=args.max_positions)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model, (example,), args.out, input_names=["input_ids"], output_names=["logits"],
            dynamic_shapes={"input_ids": {1: n}}, opset_version=18, dynamo=True,
            # Well under 2 GB: keep the weights inside the .onnx file.
            external_data=False,
        )
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 2**20:.1f} MiB)")

    try:
        import onnxruntime as ort
    except ImportError:
        print("check skipped: onnxruntime (python) is not installed")
        return
    # A length other than the export example's, so the check also exercises the dynamic axis.
    ids = torch.randint(0, VOCAB, (1, 37))
    with torch.no_grad():
        want = model(ids).numpy()
    sess = ort.InferenceSession(args.out, providers=["CPUExecutionProvider"])
    (got,) = sess.run(["logits"], {"input_ids": ids.numpy()})
    rel = float(abs(got - want).max() / abs(want).max())
    print(f"check (n = 37, onnxruntime {ort.__version__} vs torch): shape {list(got.shape)}, "
          f"max |diff| / max |torch| = {rel:.2e} -> {'ok' if rel < 1e-4 else 'FAILED'}")
    if rel >= 1e-4:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
