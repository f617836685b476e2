// Exactness of windowed decoding at lengths too long for the test suite: teacher-forced logits of the windowed
// decoder against a reference that keeps every position of history.
//   1. The shipped model over 100,000 positions, against the full-history online decoder (`window: false`).
//   2. A paper-size LM (random int8 weights, λ = 0.99) over 32,768 positions, against the full forward with every
//      layer's product done as one FFT convolution of the whole sequence (no window): the reference hidden states
//      go through the same head as the decoder's, and every position's logits are compared.
// The figure is max |windowed − reference| over every position, relative to max |reference logit|.
//
// Usage: node benches/window-exactness.mjs [--quick] [--md FILE]
// Needs `npm run build`. (Plain try/finally rather than `using`: Node 20 runs these scripts too.)
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { lmConfig, randomStateDict } from "./helpers/paper-model.mjs";

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const mdAt = argv.indexOf("--md");
const mdFile = mdAt >= 0 ? argv[mdAt + 1] : undefined;
const tnn = await import("../dist/index.js");
await tnn.init();
const load0 = loadavg()[0];

function text(n, seed, vocab) {
  let s = seed >>> 0;
  return Int32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return vocab === 256 ? 32 + (s % 90) : 4 + (s % (vocab - 4));
  });
}

/** Tracks max |a − b| and max |b| over every compared pair. */
function tracker() {
  let diff = 0;
  let scale = 0;
  return {
    add(a, b) {
      for (let i = 0; i < b.length; i++) {
        diff = Math.max(diff, Math.abs(a[i] - b[i]));
        scale = Math.max(scale, Math.abs(b[i]));
      }
    },
    get result() {
      return { diff, scale, relative: diff / scale };
    },
  };
}

const rows = [];

// --- 1. shipped model, 100,000 positions, windowed vs full-history online ------------------------------------------
{
  const n = quick ? 20_000 : 100_000;
  const model = await tnn.loadModel(new URL("../models/kjv-byte/model.safetensors", import.meta.url).pathname);
  const ids = text(n, 11, model.vocabSize);
  const windowed = model.decoder();
  const full = model.decoder({ window: false });
  const a = new Float32Array(model.vocabSize);
  const b = new Float32Array(model.vocabSize);
  const t = tracker();
  const t0 = performance.now();
  windowed.prefill(ids.subarray(0, 1), a);
  full.prefill(ids.subarray(0, 1), b);
  t.add(a, b);
  for (let i = 1; i < n; i++) {
    windowed.step(ids[i], a);
    full.step(ids[i], b);
    t.add(a, b);
  }
  const r = t.result;
  rows.push([
    "shipped (d 128, 4 layers, f16 weights)", n.toLocaleString("en-US"), "full-history online decoder", r,
    `${(windowed.memoryBytes / 2 ** 20).toFixed(1)} vs ${(full.memoryBytes / 2 ** 20).toFixed(1)}`,
    (performance.now() - t0) / 1000,
  ]);
  windowed.dispose();
  full.dispose();
  model.dispose();
}

// --- 2. paper-size LM, 32,768 positions, windowed decoder vs the unwindowed full forward ------------------------
{
  const n = quick ? 4_096 : 32_768;
  const cfg = lmConfig({ gamma: 0.99 });
  const model = await tnn.loadModel(randomStateDict(cfg, 2023), { config: cfg, dtype: "int8", tokenizer: "none" });
  const V = model.vocabSize;
  const ids = text(n, 12, V);
  const t0 = performance.now();
  // The reference: each layer's causal product over the whole sequence in one FFT, with all n coefficients.
  const fullMixers = model.body.layers.map((l) => ({
    mix(v) {
      const coeffs = l.tno.coefficients(n);
      const plan = new tnn.ToeplitzPlan(n, l.tno.channels, true);
      try {
        return plan.applyCoeffs(v, coeffs);
      } finally {
        plan.dispose();
        coeffs.dispose();
      }
    },
  }));
  const hRef = model.body.forward(ids, fullMixers);
  const d = hRef.dims[1];
  const dec = model.decoder({ maxLength: n });
  const t = tracker();
  const logits = new Float32Array(V);
  const BLOCK = 64;
  for (let start = 0; start < n; start += BLOCK) {
    const m = Math.min(BLOCK, n - start);
    const h = tnn.Tensor.from(hRef.data.slice(start * d, (start + m) * d), [m, d]);
    const ref = model.head.forward(h);
    h.dispose();
    for (let i = start; i < start + m; i++) {
      if (i === 0) dec.prefill(ids.subarray(0, 1), logits);
      else dec.step(ids[i], logits);
      t.add(logits, ref.data.subarray((i - start) * V, (i - start + 1) * V));
    }
    ref.dispose();
  }
  hRef.dispose();
  rows.push([
    "paper-size LM (d 512, 7 layers, int8, random)", n.toLocaleString("en-US"), "full forward, one FFT per layer, no window",
    t.result, `${(dec.memoryBytes / 2 ** 20).toFixed(1)} (windows ${dec.windows.join(", ")})`, (performance.now() - t0) / 1000,
  ]);
  dec.dispose();
  model.dispose();
}

const md = [
  "### Exactness of windowed decoding — `node benches/window-exactness.mjs`",
  "",
  `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}, simd128 wasm; load average ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end.`,
  "Teacher-forced: every position's logits of the windowed decoder against the reference's for the same prefix.",
  "",
  "| model | positions | reference | max abs diff | max abs logit | relative | windowed state MiB | s |",
  "| --- | ---: | --- | ---: | ---: | ---: | --- | ---: |",
  ...rows.map(([m, n, ref, r, mem, s]) =>
    `| ${m} | ${n} | ${ref} | ${r.diff.toExponential(2)} | ${r.scale.toFixed(2)} | ${r.relative.toExponential(2)} | ${mem} | ${s.toFixed(0)} |`),
  "",
].join("\n");
console.log(md);
if (mdFile) writeFileSync(mdFile, md);
