// Decode benchmark: per-token cost of autoregressive decoding at long context, exact online (relaxed FFT)
// convolution against the naive O(t) history dot product, for
//   1. the Toeplitz part alone: one layer's causal depthwise convolution, c channels (default 1536 = d1 of the
//      paper's LM), driven through the raw wasm classes (pkg/simd);
//   2. the whole layer stack of a real model (default: the shipped models/kjv-byte), through the built package
//      (dist/index.js: loadModel → model.decoder()).
// Online is timed over every step from position ctx/2 to ctx, so its amortized figure includes the big blocks
// (the block of ctx/2 inputs happens at ctx/2). Naive costs O(t) per step at every step, so its last 256 steps
// before ctx stand for the range. p50/p99 are single-step latencies; state memory is one sequence's (for the stack:
// all layers), shared kernels excluded.
//
// Usage: node benches/decode.mjs [--quick] [--channels C] [--contexts 1024,4096,16384,65536] [--model DIR]
//                                [--no-stack] [--md FILE]
// Needs `npm run build:wasm` (part 1) and `npm run build` (part 2).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import initKernels, * as k from "../pkg/simd/tnn.js";

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const value = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const quick = flag("quick");
const channels = Number(value("channels", "1536"));
const contexts = value("contexts", quick ? "1024,4096,16384" : "1024,4096,16384,65536").split(",").map(Number);
const modelDir = value("model", fileURLToPath(new URL("../models/kjv-byte/", import.meta.url)));
const mdFile = value("md", undefined);
const NAIVE_STEPS = quick ? 64 : 256;

const wasm = await initKernels({ module_or_path: readFileSync(new URL("../pkg/simd/tnn_bg.wasm", import.meta.url)) });
const f32 = (ptr, len) => new Float32Array(wasm.memory.buffer, ptr, len);

function randomFill(a, seed) {
  let s = seed >>> 0;
  for (let i = 0; i < a.length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
}

function stats(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  const total = ms.reduce((a, b) => a + b, 0);
  return { tokensPerSecond: (ms.length / total) * 1000, msPerToken: total / ms.length, p50: q(0.5), p99: q(0.99) };
}

// --- 1. the Toeplitz part ------------------------------------------------------------------------------------
/** Steps one state over positions [from, to) after prefilling `from` inputs; returns per-step ms. */
function runState(State, kernel, c, from, to) {
  // Input values do not change the cost: the steps reuse the prompt's rows, which keeps wasm memory down at 64K.
  const rows = Math.max(from, 1);
  const vp = k.alloc(rows * c * 4), yp = k.alloc(rows * c * 4);
  randomFill(f32(vp, rows * c), 7);
  const st = new State(kernel, kernel.cap());
  if (!st.prefill(kernel, vp, from, 0, yp)) throw new Error("prefill refused");
  const ms = [];
  for (let t = from; t < to; t++) {
    const t0 = performance.now();
    if (!st.step(kernel, vp + ((t - from) % rows) * c * 4, 0, yp)) throw new Error(`step refused at ${t}`);
    ms.push(performance.now() - t0);
  }
  const bytes = st.memory_bytes();
  st.free();
  k.dealloc(vp, rows * c * 4);
  k.dealloc(yp, rows * c * 4);
  return { ms, bytes };
}

function toeplitzPart(ctx, c) {
  const cap = ctx;
  const cp = k.alloc(cap * c * 4);
  const coeffs = f32(cp, cap * c);
  randomFill(coeffs, 3);
  for (let r = 0; r < cap; r++) for (let j = 0; j < c; j++) coeffs[r * c + j] *= 0.99 ** r; // decayed like the model's
  let t0 = performance.now();
  const kernel = new k.OnlineKernel(cp, cap, cap, c);
  const buildMs = performance.now() - t0;
  k.dealloc(cp, cap * c * 4);
  const online = runState(k.OnlineConvState, kernel, c, ctx / 2 - 1, ctx - 1);
  const naive = runState(k.NaiveConvState, kernel, c, ctx - 1 - NAIVE_STEPS, ctx - 1);
  const kernelBytes = kernel.memory_bytes();
  kernel.free();
  return { ctx, buildMs, kernelBytes, online: { ...stats(online.ms), bytes: online.bytes }, naive: { ...stats(naive.ms), bytes: naive.bytes } };
}

// --- 2. the whole stack ---------------------------------------------------------------------------------------
async function stackPart(ctxs) {
  const dist = new URL("../dist/index.js", import.meta.url);
  if (!existsSync(fileURLToPath(dist))) return { skipped: "dist/index.js missing: run `npm run build`" };
  if (!existsSync(`${modelDir}/model.safetensors`)) return { skipped: `no model at ${modelDir}` };
  const tnn = await import(dist.href);
  const model = await tnn.loadModel(`${modelDir}/model.safetensors`);
  if (typeof model.decoder !== "function") return { skipped: "dist/index.js does not export ts/generate's loadModel yet" };
  const rows = [];
  const ids = new Int32Array(Math.max(...ctxs));
  let s = 11;
  for (let i = 0; i < ids.length; i++) ids[i] = (s = (s * 1664525 + 1013904223) >>> 0) % model.vocabSize;
  for (const ctx of ctxs) {
    const row = { ctx };
    for (const mode of ["online", "naive"]) {
      const from = mode === "online" ? ctx / 2 - 1 : ctx - 1 - NAIVE_STEPS;
      const dec = model.decoder({ mode, maxLength: ctx });
      const t0 = performance.now();
      dec.prefill(ids.subarray(0, from));
      const prefillMs = performance.now() - t0;
      const ms = [];
      for (let t = from; t < ctx - 1; t++) {
        const a = performance.now();
        dec.step(ids[t]);
        ms.push(performance.now() - a);
      }
      row[mode] = { ...stats(ms), bytes: dec.memoryBytes, prefillTokensPerSecond: (from / prefillMs) * 1000 };
      dec.dispose();
    }
    rows.push(row);
    process.stderr.write(`stack ctx ${ctx} done\n`);
  }
  const cfg = model.config;
  model.dispose();
  return { rows, model: `${modelDir} (d=${cfg.dModel}, layers=${cfg.nLayers}, d1=${cfg.dModel * cfg.expandRatio}, V=${cfg.vocabSize})` };
}

// --- report ---------------------------------------------------------------------------------------------------
const mib = (b) => (b / 2 ** 20).toFixed(1);
const out = [];
out.push(`## Decode`, ``, `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}, simd128 wasm, one thread.`, ``);
out.push(`### Toeplitz part: one layer, ${channels} channels`, ``);
out.push(`| context | online tok/s | naive tok/s | speed-up | online p50 / p99 ms | naive p50 / p99 ms | online state MiB | naive state MiB | kernel MiB (shared) | kernel build ms |`);
out.push(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
const tp = [];
for (const ctx of contexts) {
  const r = toeplitzPart(ctx, channels);
  tp.push(r);
  process.stderr.write(`toeplitz ctx ${ctx} done\n`);
  out.push(`| ${ctx} | ${r.online.tokensPerSecond.toFixed(0)} | ${r.naive.tokensPerSecond.toFixed(0)} | ${(r.online.tokensPerSecond / r.naive.tokensPerSecond).toFixed(1)}× | ` +
    `${r.online.p50.toFixed(3)} / ${r.online.p99.toFixed(3)} | ${r.naive.p50.toFixed(3)} / ${r.naive.p99.toFixed(3)} | ${mib(r.online.bytes)} | ${mib(r.naive.bytes)} | ${mib(r.kernelBytes)} | ${r.buildMs.toFixed(0)} |`);
}
const base = tp.find((r) => r.ctx === 1024);
if (base) {
  out.push(``, `Online ms/token relative to 1K context: ${tp.map((r) => `${r.ctx}: ${(r.online.msPerToken / base.online.msPerToken).toFixed(2)}×`).join(", ")}.`);
}
if (!flag("no-stack")) {
  const st = await stackPart(contexts);
  out.push(``, `### Whole layer stack`, ``);
  if (st.skipped) out.push(`(skipped: ${st.skipped})`);
  else {
    out.push(`Model: ${st.model}.`, ``);
    out.push(`| context | online tok/s | naive tok/s | speed-up | online p50 / p99 ms | naive p50 / p99 ms | online state MiB | naive state MiB | prefill tok/s |`);
    out.push(`| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
    for (const r of st.rows) {
      out.push(`| ${r.ctx} | ${r.online.tokensPerSecond.toFixed(0)} | ${r.naive.tokensPerSecond.toFixed(0)} | ${(r.online.tokensPerSecond / r.naive.tokensPerSecond).toFixed(1)}× | ` +
        `${r.online.p50.toFixed(3)} / ${r.online.p99.toFixed(3)} | ${r.naive.p50.toFixed(3)} / ${r.naive.p99.toFixed(3)} | ${mib(r.online.bytes)} | ${mib(r.naive.bytes)} | ${r.online.prefillTokensPerSecond.toFixed(0)} |`);
    }
    const b = st.rows.find((r) => r.ctx === 1024);
    if (b) out.push(``, `Online ms/token relative to 1K context: ${st.rows.map((r) => `${r.ctx}: ${(r.online.msPerToken / b.online.msPerToken).toFixed(2)}×`).join(", ")}.`);
  }
}
const md = out.join("\n") + "\n";
if (mdFile) writeFileSync(mdFile, md);
process.stdout.write(md);
