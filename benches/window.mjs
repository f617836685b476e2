// Windowed decoding: memory and per-token time that stop growing with the context, for decayed TNNs.
//   1. The Toeplitz part of one layer (c channels, window K, the paper LM's d1 = 1536 and K ≈ 2,350 by default),
//      through the raw wasm classes: per-token µs and state + kernel bytes at each context, windowed against the
//      full-history online state it replaces (which holds every position: run only to 16K).
//   2. Whole models through the built package: the shipped model and a paper-size LM (random weights, λ = 0.99),
//      decoder state + kernel bytes and ms per token at each context; contexts past the first are reached by a
//      pipelined prefill of the same windowed states.
//
// Usage: node benches/window.mjs [--quick] [--contexts 1024,16384,131072,1048576] [--md FILE]
// Needs `npm run build`.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import initKernels, * as k from "../pkg/simd/tnn.js";

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const value = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const quick = flag("quick");
const contexts = value("contexts", quick ? "1024,16384,131072" : "1024,16384,131072,1048576").split(",").map(Number);
const mdFile = value("md", undefined);
const C = 1536;
const K = 2350;
const STEPS = quick ? 1024 : 4096;
const BLOCK = 8192;
const load0 = loadavg()[0];

const wasm = await initKernels({ module_or_path: readFileSync(new URL("../pkg/simd/tnn_bg.wasm", import.meta.url)) });
const f32 = (ptr, len) => new Float32Array(wasm.memory.buffer, ptr, len);
const mib = (b) => (b / 2 ** 20).toFixed(1);

function fill(ptr, len, seed, decay = 1) {
  const a = f32(ptr, len);
  let s = seed >>> 0;
  for (let i = 0; i < len; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = (s / 2 ** 32 - 0.5) * decay ** Math.floor(i / C);
  }
}

/** Pushes `context` positions (in 8192-row blocks) through `push`. */
function consume(push, context, vp, yp) {
  for (let done = 0; done < context; done += BLOCK) push(vp, Math.min(BLOCK, context - done), yp);
}

/** Per-token µs of `steps` single steps after `context` positions were pushed. */
function timeState(push, context) {
  const vp = k.alloc(BLOCK * C * 4), yp = k.alloc(BLOCK * C * 4);
  fill(vp, BLOCK * C, 3);
  consume(push, context, vp, yp);
  const t0 = performance.now();
  for (let i = 0; i < STEPS; i++) push(vp + (i % BLOCK) * C * 4, 1, yp);
  const us = ((performance.now() - t0) / STEPS) * 1000;
  k.dealloc(vp, BLOCK * C * 4);
  k.dealloc(yp, BLOCK * C * 4);
  return us;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rows = [];
// --- 1. the Toeplitz part -----------------------------------------------------------------------------------------
{
  const cp = k.alloc(K * C * 4);
  fill(cp, K * C, 1, 0.99);
  const chunk = 512;
  const kernel = new k.WindowKernel(cp, K, C, chunk);
  // One state per context, all alive, timed in interleaved rounds of one chunk's worth of steps: a change in the
  // machine's load touches every context alike, and each round holds the same number of far FFTs.
  const vp = k.alloc(BLOCK * C * 4), yp = k.alloc(BLOCK * C * 4);
  fill(vp, BLOCK * C, 3);
  const states = contexts.map((ctx) => {
    const st = new k.WindowState(kernel);
    consume((v, n, y) => st.push(kernel, v, n, y), ctx, vp, yp);
    return { ctx, st, us: [] };
  });
  for (let r = 0; r < STEPS / chunk; r++) {
    for (const s of states) {
      const t0 = performance.now();
      for (let i = 0; i < chunk; i++) s.st.push(kernel, vp + (i % BLOCK) * C * 4, 1, yp);
      s.us.push(((performance.now() - t0) / chunk) * 1000);
    }
  }
  for (const s of states) {
    rows.push(["windowed", s.ctx, median(s.us), kernel.memory_bytes() + s.st.memory_bytes()]);
    s.st.free();
  }
  k.dealloc(vp, BLOCK * C * 4);
  k.dealloc(yp, BLOCK * C * 4);
  kernel.free();
  for (const ctx of contexts.filter((c) => c <= 16384)) {
    const cap = 2 ** Math.ceil(Math.log2(ctx + STEPS));
    const tp = k.alloc(cap * C * 4);
    fill(tp, cap * C, 1, 0.99);
    const ok = new k.OnlineKernel(tp, cap, cap, C);
    k.dealloc(tp, cap * C * 4);
    const st = new k.OnlineConvState(ok, cap);
    let first = true;
    const us = timeState((v, n, y) => {
      if (first) {
        st.prefill(ok, v, n, 0, y);
        first = false;
      } else for (let i = 0; i < n; i++) st.step(ok, v + i * C * 4, 0, y + i * C * 4);
    }, ctx);
    rows.push(["full history (online)", ctx, us, ok.memory_bytes() + st.memory_bytes()]);
    st.free();
    ok.free();
  }
  k.dealloc(cp, K * C * 4);
}

const out = [
  "### Windowed decoding — `node benches/window.mjs" + (quick ? " --quick" : "") + "`",
  "",
  `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}; load average ${load0.toFixed(2)} at the start.`,
  "",
  `Toeplitz part of one layer (pkg/simd, one thread): ${C} channels, window K = ${K}, chunk 512; µs per token over ${STEPS} steps after the context was consumed; state + kernel bytes of the layer.`,
  "",
  "| state | context | µs / token | state + kernel MiB |",
  "| --- | ---: | ---: | ---: |",
  ...rows.map(([s, ctx, us, b]) => `| ${s} | ${ctx.toLocaleString("en-US")} | ${us.toFixed(1)} | ${mib(b)} |`),
  "",
];

// --- 2. whole models ------------------------------------------------------------------------------------------------
const tnn = await import("../dist/index.js");
const { lmConfig, randomStateDict } = await import("./helpers/paper-model.mjs");
async function modelRows(name, model, ctxs) {
  const V = model.vocabSize;
  const logits = new Float32Array(V);
  const n = quick ? 32 : 128;
  const ROUND = 16;
  // One decoder per context, all alive, stepped in interleaved rounds (as above).
  const runs = ctxs.map((ctx) => {
    const ids = Int32Array.from({ length: ctx }, (_, i) => 32 + ((i * 7919) % 90) % V);
    // Sized for the context and the steps, so that no timed step includes an online bucket's growth.
    const dec = model.decoder({ maxLength: ctx + n + 1 });
    const t0 = performance.now();
    dec.prefill(ids, logits);
    return { ctx, ids, dec, prefillS: (performance.now() - t0) / 1000, ms: [] };
  });
  for (let r = 0; r < n / ROUND; r++) {
    for (const run of runs) {
      const t0 = performance.now();
      for (let i = 0; i < ROUND; i++) run.dec.step(run.ids[r * ROUND + i] ?? 1, logits);
      run.ms.push((performance.now() - t0) / ROUND);
    }
  }
  const kernels = model.body.layers.reduce((s, l) => s + (l.tno.windowKernel()?.memoryBytes ?? 0), 0);
  return runs.map(({ ctx, dec, prefillS, ms }) => {
    const windowed = dec.capacity === Infinity;
    const row = `| ${name} | ${ctx.toLocaleString("en-US")} | ${windowed ? "windowed" : "online bucket"} | ${median(ms).toFixed(2)} | ${mib(dec.memoryBytes + (windowed ? kernels : model.decodeKernels.memoryBytes))} | ${prefillS.toFixed(1)} |`;
    dec.dispose();
    return row;
  });
}
const shipped = await tnn.loadModel(new URL("../models/kjv-byte/model.safetensors", import.meta.url).pathname);
const modelLines = await modelRows("shipped (d 128, 4 layers, c 384)", shipped, contexts);
shipped.dispose();
const paperCfg = lmConfig({ d_model: 512, n_layers: 7, expand_ratio: 3, n_heads: 1, rpe_dim: 64, rpe_layers: 6, gamma: 0.99, glu_dim: 512, vocab_size: 50264 });
const paper = await tnn.loadModel(randomStateDict(paperCfg, 2023), { config: paperCfg, dtype: "int8", tokenizer: "none" });
modelLines.push(...(await modelRows("paper-size LM, int8 (d 512, 7 layers, c 1536)", paper, contexts.filter((c) => c <= (quick ? 16384 : 131072)))));
const windows = paper.body.layers.map((l) => l.tno.window);
paper.dispose();
out.push(
  `Whole models (the package, wasm ${tnn.backendInfo().build} build on ${tnn.backendInfo().threads} thread(s)), greedy steps after a prefill of the context (the prefill moves to windowed states once the context reaches the longest window; contexts past it are consumed by them in blocks). Paper-size LM windows: ${windows.join(", ")}. A GPT-2-style transformer of the paper LM's width and depth holds a KV cache of 2 × 7 layers × 512 × 4 bytes = 28 KiB per token: 448 MiB at 16K, 3.5 GiB at 128K.`,
  "",
  "| model | context | states | ms / token | state + kernel MiB | prefill s |",
  "| --- | ---: | --- | ---: | ---: | ---: |",
  ...modelLines,
  "",
  `Load average at the end: ${loadavg()[0].toFixed(2)}.`,
  "",
);
const text = out.join("\n");
console.log(text);
if (mdFile) writeFileSync(mdFile, text);
