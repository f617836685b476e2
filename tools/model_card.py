"""Write <model dir>/README.md (the model card) and its SVG plots from the run records.

    python3 tools/model_card.py models/kjv-byte

Inputs: training.json and config.json (written by tools/train.py), model.safetensors, and, when present,
eval_reference.json and eval_reference_nodecay.json (written by tools/eval_reference.py --json ...).
Called by train.py at the end; run it again after the reference evaluations to add their table and plot.
"""

from __future__ import annotations

import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from svg_plot import line_plot_svg  # noqa: E402

LN2 = math.log(2)


def _load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def write_card(model_dir: str) -> str:
    cfg = _load(os.path.join(model_dir, "config.json"))
    run = _load(os.path.join(model_dir, "training.json"))
    ev = _load(os.path.join(model_dir, "eval_reference.json"))
    ev0 = _load(os.path.join(model_dir, "eval_reference_nodecay.json"))
    a = run["args"]
    size = os.path.getsize(os.path.join(model_dir, "model.safetensors"))
    curve = run["curve"]

    steps = [c["step"] for c in curve]
    with open(os.path.join(model_dir, "loss.svg"), "w") as f:
        f.write(line_plot_svg(steps, {"train (mean since previous point)": [c["train_loss"] / LN2 for c in curve],
                                      "held-out (first 128 blocks)": [c["test_loss"] / LN2 for c in curve]},
                              title="kjv-byte: loss during training", xlabel="step", ylabel="bits per byte"))

    L = []
    L.append("# kjv-byte: a byte-level Toeplitz Neural Network trained on the King James Bible\n")
    L.append("A small causal TNN language model, shipped with tnn so that it works with no download. Same architecture "
             "as the paper's WikiText-103 LM (`tnn_v2_decay_99_pre`: pre-norm blocks of GTU (TNO + RPE, decay "
             f"λ = {cfg['gamma']}) and GLU, SimpleRMSNorm inside, final LayerNorm, √d embedding scale, output tied to "
             "the embedding, no positional embedding), only smaller, with bytes as tokens.\n")
    L.append("## Files\n")
    L.append("| file | content |\n| --- | --- |")
    L.append(f"| `model.safetensors` | weights, F16, official fairseq names (`decoder.*`), {size:,} bytes |")
    L.append("| `config.json` | model config (schema: tools/README.md) |")
    L.append(f"| `heldout.txt` | the held-out split, {run['heldout_bytes']:,} bytes of ASCII |")
    L.append("| `training.json` | every setting and the loss curve of the run that produced these weights |")
    L.append("| `loss.svg` | the loss curve |")
    if ev:
        L.append("| `eval_reference*.json`, `extrapolation_reference.svg` | float64 reference evaluation by context length |")
    L.append("")
    L.append("## Model\n")
    d1 = cfg["d_model"] * cfg["expand_ratio"]
    L.append("| | |\n| --- | --- |")
    L.append(f"| d_model | {cfg['d_model']} |")
    L.append(f"| layers | {cfg['n_layers']} |")
    L.append(f"| GTU width d1 | {d1} (expand ratio {cfg['expand_ratio']}), {cfg['n_heads']} head |")
    L.append(f"| RPE | {cfg['rpe_dim']} wide, {cfg['rpe_layers']} hidden layers |")
    L.append(f"| decay λ | {cfg['gamma']} (frozen) |")
    L.append(f"| GLU hidden | {cfg['glu_dim']} |")
    L.append(f"| vocabulary | {cfg['vocab_size']}: token id = byte value, no special tokens; text is encoded as UTF-8 bytes |")
    L.append(f"| trainable parameters | {run['trainable_parameters']:,} (plus {cfg['n_layers'] * d1} frozen λ values) |")
    L.append(f"| training length | {cfg['max_positions']} bytes |")
    L.append("")
    L.append("## Data\n")
    L.append("The King James Version (1611; public domain) from Debian's package `bible-kjv-text` (4.38), whose "
             "`/usr/lib/bible.data` is a compressed random-access format. The text is extracted with the reader from the "
             "same source package, `bible-kjv` (`/usr/bin/bible`):\n")
    L.append("    apt-get install -y bible-kjv bible-kjv-text")
    L.append('    bible -m 8000 -l 100000 "Gen1:1-Rev22:21"\n')
    L.append("which prints each chapter as a `Book N` heading between blank lines and each verse on one line as "
             "`  V text`; train.py strips the two-space indent and the first blank line. The result is "
             f"{run['train_bytes'] + run['heldout_bytes']:,} bytes of ASCII.\n")
    L.append(f"- Training split: Genesis … Philippians, {run['train_bytes']:,} bytes.")
    L.append(f"- Held-out split: Colossians … Revelation (the last books, "
             f"{100 * run['heldout_bytes'] / (run['train_bytes'] + run['heldout_bytes']):.1f}% of the bytes), "
             f"{run['heldout_bytes']:,} bytes, shipped as `heldout.txt`. Never used for training or model selection.\n")
    L.append("## Training\n")
    L.append(f"- {a['steps']} steps of {a['batch']} random {a['block']}-byte blocks ({a['steps'] * a['batch'] * a['block']:,} "
             f"tokens, {a['steps'] * a['batch'] * a['block'] / run['train_bytes']:.1f} passes over the training split).")
    L.append(f"- AdamW (β = 0.9, 0.98; weight decay {a['weight_decay']} on matrices), peak learning rate {a['lr']}, "
             f"{a['warmup']} warm-up steps, cosine decay to {a['min_lr_ratio']}× peak, gradient clipping at 1.0, "
             f"seed {a['seed']}.")
    L.append(f"- TNO computed as the official code does (rfft/irfft at length 2n).")
    cpu = run.get("train_cpu_seconds")
    L.append(f"- CPU, {a['threads']} PyTorch thread (torch {run['torch_version']}): "
             f"{run['train_seconds'] / 60:.1f} minutes wall clock"
             + (f", {cpu / 60:.1f} minutes of CPU time" if cpu else "")
             + (" (the core was shared with other jobs)" if cpu and run["train_seconds"] > 1.15 * cpu else "") + ".")
    L.append("- Weights exported as F16 (computation in the library is float32).\n")
    L.append("Reproduce" + (f" (about {cpu / 60:.0f} minutes of one free core)" if cpu else "") + ":\n")
    L.append("    python3 tools/train.py --out models/kjv-byte\n")
    L.append("## Loss curve\n")
    L.append("![loss curve](loss.svg)\n")
    L.append("| step | train bits/byte | held-out bits/byte |\n| ---: | ---: | ---: |")
    for c in curve:
        L.append(f"| {c['step']} | {c['train_loss'] / LN2:.4f} | {c['test_loss'] / LN2:.4f} |")
    L.append("")
    L.append("Train loss: mean over the steps since the previous point. Held-out during training: the first 128 "
             "512-byte blocks of `heldout.txt`.\n")
    ft = run["final_test_loss_all_blocks"]
    L.append(f"**Final held-out loss** over all {run['heldout_bytes'] // cfg['max_positions']} non-overlapping "
             f"512-byte blocks (PyTorch, float32 weights before F16 export): {ft:.4f} nats/byte = "
             f"**{ft / LN2:.4f} bits/byte** (perplexity {math.exp(ft):.3f} per byte).\n")
    if ev:
        rows = {r["length"]: r for r in ev["results"]}
        rows0 = {r["length"]: r for r in (ev0 or {"results": []})["results"]}
        lengths = sorted(rows)
        L.append("## Reference evaluation by context length (float64)\n")
        L.append("`tools/eval_reference.py` (numpy float64, weights as stored in F16) on `heldout.txt`: "
                 "non-overlapping windows of L bytes, every position scored (see the script for the exact "
                 "definition). The control column sets every λ to 1, i.e. removes the decay from the same "
                 "weights.\n")
        L.append("| context L | windows | bits/byte | ppl/byte |" + (" bits/byte, λ = 1 |" if rows0 else ""))
        L.append("| ---: | ---: | ---: | ---: |" + (" ---: |" if rows0 else ""))
        for n in lengths:
            r = rows[n]
            extra = f" {rows0[n]['bits_per_byte']:.4f} |" if n in rows0 else (" |" if rows0 else "")
            L.append(f"| {n} | {r['windows']} | {r['bits_per_byte']:.4f} | {r['perplexity_per_byte']:.4f} |{extra}")
        L.append("")
        series = {"λ as trained": [rows[n]["bits_per_byte"] for n in lengths]}
        if rows0 and all(n in rows0 for n in lengths):
            series["λ = 1 (decay removed)"] = [rows0[n]["bits_per_byte"] for n in lengths]
        with open(os.path.join(model_dir, "extrapolation_reference.svg"), "w") as f:
            f.write(line_plot_svg(lengths, series, title="kjv-byte: held-out bits/byte by context length",
                                  xlabel="context length (bytes), trained at 512", ylabel="bits per byte", log_x=True,
                                  legend_left=True))
        L.append("![extrapolation](extrapolation_reference.svg)\n")
        L.append("Trained at 512, the model keeps its held-out loss flat out to the longest window: the decay makes the Toeplitz kernel vanish at offsets far beyond "
                 "those seen in training (λ^k · RPE(k), and the RPE output stays bounded because its first SimpleRMSNorm "
                 "normalises the linear growth in k), so longer inputs add nothing the model cannot handle. "
                 "Removing the decay from the same weights (λ = 1) already hurts at 512, since the weights were "
                 "trained with it, and gets worse with every doubling: the undecayed kernel keeps summing RPE(k) over "
                 "the whole past, which at long offsets tends to a constant vector, so the mixing output grows with "
                 "the context length.\n")
    L.append("## License\n")
    L.append("The text is in the public domain. The weights are released under the repository's license.\n")
    text = "\n".join(L)
    with open(os.path.join(model_dir, "README.md"), "w") as f:
        f.write(text)
    return text


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 tools/model_card.py MODEL_DIR")
    write_card(sys.argv[1])
