#!/usr/bin/env node
// Threads and fused multiply-add: what each wasm build and thread count gives, against the engines a user would
// otherwise pick, measured in one run on one machine.
//   1. GEMM GFLOP/s per build (scalar, simd128, relaxed SIMD) at 1 and 2 threads, for a prefill product
//      (512 × 512 × 1536) and a decode product (1 × 512 × 1536), against each build's measured peak: a register-only
//      loop of independent multiply-adds in that instruction set (12 accumulators, so latency never binds).
//   2. Prefill tokens/s of the paper-size LM (d 512, 7 layers, d1 1536, vocabulary 50,264, 48.7M parameters, f32,
//      random weights) at n = 512, 2K, 8K, 16K: the hidden states of all n positions (every layer and the final
//      norm). Peers at the same thread counts: the project's own PyTorch model (tools/tnn_torch.py, the official
//      module semantics, the same weights) on native CPU PyTorch; and a GPT-2-style transformer of the same width,
//      depth and vocabulary in onnxruntime-node and onnxruntime-web (benches/peers: all n positions through every
//      layer, the head on the last one only).
//   3. Decode ms/token of the same LM at 1K, 4K, 16K context, f32, f16 and int8 weights, at 1 and 2 threads, with the
//      vocabulary head's share of a step (the same product alone: 1 × 512 × 50,264 in the model's weight storage).
// Every (engine, threads) pair runs in its own process (one wasm realm loads one build); repetitions are
// interleaved across the pairs, so a change of machine load hits all of them alike, and medians are reported.
//
// Usage: node benches/threads.mjs [--quick] [--parts gemm,prefill,decode] [--threads 1,2] [--n 512,2048,8192,16384]
//                                 [--contexts 1024,4096,16384] [--runs 3] [--peers torch,ort-node,ort-web] [--md FILE]
//   --quick   n = 512, 2048; contexts 1024; one repetition; no peers unless --peers says so
// Peers are skipped, with a note, where their engine is not installed: PyTorch in /opt/torchenv or $TNN_TORCH_PYTHON
// (a Python with torch), onnxruntime installed on first use into benches/.peers (see benches/peers/README.md).
// Needs `npm run build` (dist/).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const argv = process.argv.slice(2);
const value = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const list = (name, dflt) => String(value(name, dflt)).split(",").filter(Boolean);
/** The lower middle value (of two runs, the lower). */
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];


// ------------------------------------------------------------------------------------------------------------------
// Children: one wasm realm each.

async function runChild(kind, a) {
  const tnn = await import(join(root, "dist/index.js"));
  const info = await tnn.init({ simd: a.build !== "scalar", relaxedSimd: a.build === "relaxed", threads: a.threads });
  if (info.build !== a.build || info.threads !== a.threads) throw new Error(`asked for ${a.build} on ${a.threads} threads, got ${info.build} on ${info.threads}`);
  if (kind === "gemm") return gemmChild(tnn, a);
  if (kind === "prefill") return prefillChild(tnn, a);
  if (kind === "decode") return decodeChild(tnn, a);
  throw new Error(`unknown child ${kind}`);
}

function values(n, seed) {
  let s = seed >>> 0 || 1;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    v[i] = (s / 2 ** 32) * 2 - 1;
  }
  return v;
}

/** GFLOP/s of `f` (which does `flop` each call), best of three windows of about 0.3 s. */
function gflops(f, flop) {
  f();
  let calls = 1;
  for (let t = 0; t < 0.05; calls *= 2) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) f();
    t = (performance.now() - t0) / 1000;
  }
  calls = Math.max(1, Math.round(calls * 3));
  let best = 0;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) f();
    best = Math.max(best, (calls * flop) / ((performance.now() - t0) / 1000) / 1e9);
  }
  return best;
}

async function gemmChild(tnn, a) {
  const out = {};
  for (const [m, k, n] of [[512, 512, 1536], [1, 512, 1536]]) {
    const x = tnn.Tensor.from(values(m * k, 1), [m, k]);
    const w = tnn.Tensor.from(values(n * k, 2), [n, k]);
    const b = tnn.Tensor.from(values(n, 3), [n]);
    const y = tnn.matmul(x, w, b);
    out[`${m}x${k}x${n}`] = gflops(() => tnn.matmul(x, w, b, y), 2 * m * k * n);
    for (const t of [x, w, b, y]) t.dispose();
  }
  if (a.threads === 1) out.peak = gflops(await peakLoop(a.build), PEAK_FLOP[a.build]);
  return out;
}

const PEAK_ITERS = 1 << 16;
const PEAK_ACC = 12;
/** Flops of one call of the peak loop: iterations × accumulators × lanes × (multiply + add). */
const PEAK_FLOP = { scalar: PEAK_ITERS * PEAK_ACC * 2, simd: PEAK_ITERS * PEAK_ACC * 8, relaxed: PEAK_ITERS * PEAK_ACC * 8 };

/** A module whose `run()` does only independent multiply-adds in registers, in the build's instruction set. */
async function peakLoop(build) {
  const wabt = await (await import(join(root, "node_modules/wabt/index.js"))).default();
  const type = build === "scalar" ? "f32" : "v128";
  const splat = (v) => (build === "scalar" ? `(f32.const ${v})` : `(f32x4.splat (f32.const ${v}))`);
  const madd = (i) =>
    build === "relaxed" ? `(local.set $c${i} (f32x4.relaxed_madd (local.get $c${i}) (local.get $a) (local.get $b)))`
    : build === "simd" ? `(local.set $c${i} (f32x4.add (f32x4.mul (local.get $c${i}) (local.get $a)) (local.get $b)))`
    : `(local.set $c${i} (f32.add (f32.mul (local.get $c${i}) (local.get $a)) (local.get $b)))`;
  const acc = [...Array(PEAK_ACC).keys()];
  const sum = acc.slice(1).reduce((s, i) => (build === "scalar" ? `(f32.add ${s} (local.get $c${i}))` : `(f32x4.add ${s} (local.get $c${i}))`), "(local.get $c0)");
  const wat = `(module (func (export "run") (result f32)
    (local $i i32) (local $a ${type}) (local $b ${type}) ${acc.map((i) => `(local $c${i} ${type})`).join(" ")}
    (local.set $a ${splat(0.999)}) (local.set $b ${splat(0.001)})
    ${acc.map((i) => `(local.set $c${i} ${splat(i)})`).join(" ")}
    (loop $l ${acc.map(madd).join(" ")}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const ${PEAK_ITERS}))))
    ${build === "scalar" ? sum : `(f32x4.extract_lane 0 ${sum})`}))`;
  const parsed = wabt.parseWat("peak.wat", wat, { simd: true, relaxed_simd: true });
  const { buffer } = parsed.toBinary({});
  parsed.destroy();
  const { instance } = await WebAssembly.instantiate(buffer);
  return instance.exports.run;
}

const PAPER = {
  d_model: 512, n_layers: 7, expand_ratio: 3, n_heads: 1, rpe_dim: 64, rpe_layers: 6, gamma: 0.99, glu_dim: 512, vocab_size: 50264,
};

function ids(n, vocab) {
  let s = 12345;
  return Int32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 8) % vocab;
  });
}

async function paperModel(tnn, dtype) {
  const { lmConfig, randomStateDict } = await import(join(here, "helpers/paper-model.mjs"));
  const cfg = lmConfig(PAPER);
  return tnn.loadModel(randomStateDict(cfg, 2023), { config: cfg, dtype, tokenizer: "none" });
}

async function prefillChild(tnn, a) {
  const model = await paperModel(tnn, "float32");
  // A warm-up at half the smallest n: the engine's optimising tiers, the pool's workers and wasm memory growth. Not
  // at a timed length, so that every timed forward is the first at its length (its Toeplitz kernels computed, as
  // PyTorch computes them on every call), not a second one that fills the kernel cache.
  model.hiddenStates(ids(Math.max(1, Math.floor(Math.min(...a.n) / 2)), PAPER.vocab_size)).dispose();
  const out = [];
  for (const n of a.n) {
    const x = ids(n, PAPER.vocab_size);
    const t0 = performance.now();
    model.hiddenStates(x).dispose();
    out.push({ n, seconds: (performance.now() - t0) / 1000 });
  }
  model.dispose();
  return out;
}

async function decodeChild(tnn, a) {
  const steps = a.steps;
  const ROUND = 8;
  const rows = [];
  for (const dtype of ["float32", "float16", "int8"]) {
    const model = await paperModel(tnn, dtype);
    const logits = new Float32Array(PAPER.vocab_size);
    const runs = a.contexts.map((ctx) => {
      const x = ids(ctx + steps, PAPER.vocab_size);
      const dec = model.decoder({ maxLength: ctx + steps + 1 });
      dec.prefill(x.subarray(0, ctx), logits);
      return { ctx, x, dec, ms: [] };
    });
    for (let r = 0; r < steps / ROUND; r++) {
      for (const run of runs) {
        const t0 = performance.now();
        for (let i = 0; i < ROUND; i++) run.dec.step(run.x[run.ctx + r * ROUND + i], logits);
        run.ms.push((performance.now() - t0) / ROUND);
      }
    }
    // The head alone: the tied embedding as the model stores it, one row.
    const head = headProduct(tnn, dtype);
    for (const run of runs) {
      rows.push({ dtype, ctx: run.ctx, ms: median(run.ms), headMs: head });
      run.dec.dispose();
    }
    model.dispose();
  }
  return rows;
}

/** ms of one 1 × 512 × 50,264 product with weights stored as `dtype` (what the tied head does each step). */
function headProduct(tnn, dtype) {
  const [k, n] = [PAPER.d_model, PAPER.vocab_size];
  const x = tnn.Tensor.from(values(k, 4), [1, k]);
  const w32 = tnn.Tensor.from(values(n * k, 5), [n, k]);
  const w = dtype === "float32" ? w32 : dtype === "float16" ? tnn.f32ToF16(w32) : tnn.QuantizedMatrix.quantize(w32);
  const y = tnn.matmul(x, w);
  const g = gflops(() => tnn.matmul(x, w, undefined, y), 2 * k * n);
  for (const t of new Set([x, w32, w, y])) t.dispose();
  return (2 * k * n) / (g * 1e9) * 1000;
}

// ------------------------------------------------------------------------------------------------------------------
// The orchestrator.

function runNode(kind, args) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--child", kind, "--args", JSON.stringify(args)], {
    encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "pipe"],
  });
  if (r.status !== 0) throw new Error(`${kind} child (${JSON.stringify(args)}) failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

function torchPython() {
  for (const py of [process.env.TNN_TORCH_PYTHON, "/opt/torchenv/bin/python"].filter(Boolean)) {
    if (spawnSync(py, ["-c", "import torch"], { stdio: "ignore" }).status === 0) return py;
  }
  return undefined;
}

async function orchestrate() {
  const quick = argv.includes("--quick");
  const parts = list("parts", "gemm,prefill,decode");
  const threads = list("threads", "1,2").map(Number);
  const ns = list("n", quick ? "512,2048" : "512,2048,8192,16384").map(Number);
  const contexts = list("contexts", quick ? "1024" : "1024,4096,16384").map(Number);
  const runs = Number(value("runs", quick ? 1 : 3));
  const peers = list("peers", quick ? "" : "torch,ort-node,ort-web");
  const mdFile = value("md", undefined);
  if (!existsSync(join(root, "dist/index.js"))) throw new Error("dist/ is missing: run `npm run build` first");
  const load0 = loadavg();
  const started = Date.now();
  const out = [
    `### Threads and fused multiply-add — \`node benches/threads.mjs${argv.length ? ` ${argv.join(" ")}` : ""}\``,
    "",
    `${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${availableParallelism()} cores, Node ${process.version}; load average ${load0.map((l) => l.toFixed(2)).join(" ")} at the start. Medians of ${runs} interleaved repetition(s).`,
    "",
  ];

  if (parts.includes("gemm")) {
    const configs = [["scalar", 1], ...["simd", "relaxed"].flatMap((b) => threads.map((t) => [b, t]))];
    const res = new Map();
    for (let r = 0; r < runs; r++) {
      for (const [build, t] of configs) {
        const g = runNode("gemm", { build, threads: t });
        for (const [key, v] of Object.entries(g)) (res.get(`${build} ${t} ${key}`) ?? res.set(`${build} ${t} ${key}`, []).get(`${build} ${t} ${key}`)).push(v);
      }
    }
    const get = (b, t, key) => (res.has(`${b} ${t} ${key}`) ? median(res.get(`${b} ${t} ${key}`)) : undefined);
    const f = (v) => (v === undefined ? "—" : v.toFixed(1));
    out.push(
      "GEMM through `matmul` (f32 weights), GFLOP/s; peak: the build's register-only multiply-add loop on one thread.",
      "",
      `| build | peak | ${threads.map((t) => `512×512×1536, ${t} thread${t > 1 ? "s" : ""}`).join(" | ")} | ${threads.map((t) => `1×512×1536, ${t} thread${t > 1 ? "s" : ""}`).join(" | ")} |`,
      `| --- | ---: | ${threads.map(() => "---:").join(" | ")} | ${threads.map(() => "---:").join(" | ")} |`,
      ...["scalar", "simd", "relaxed"].map((b) => `| ${b} | ${f(get(b, 1, "peak"))} | ${threads.map((t) => f(get(b, t, "512x512x1536"))).join(" | ")} | ${threads.map((t) => f(get(b, t, "1x512x1536"))).join(" | ")} |`),
      "",
    );
  }

  if (parts.includes("prefill")) {
    // Node 22's V8 validates relaxed SIMD: init()'s own choice here.
    const build = "relaxed";
    const engines = threads.map((t) => ({ name: `tnn (wasm ${build})`, threads: t, run: () => runNode("prefill", { build, threads: t, n: ns }) }));
    const notes = [];
    const py = peers.includes("torch") ? torchPython() : undefined;
    if (peers.includes("torch") && !py) notes.push("PyTorch: no Python with torch found (set TNN_TORCH_PYTHON); skipped.");
    if (py) {
      // The very weights the tnn children load, for the PyTorch model to load too.
      const { lmConfig, randomStateDict } = await import(join(here, "helpers/paper-model.mjs"));
      const cfg = lmConfig(PAPER);
      mkdirSync(join(root, ".cache"), { recursive: true });
      const weights = join(root, ".cache/bench-paper-lm.safetensors");
      const config = join(root, ".cache/bench-paper-lm.json");
      writeFileSync(weights, randomStateDict(cfg, 2023));
      writeFileSync(config, JSON.stringify(cfg));
      const version = execFileSync(py, ["-c", "import torch; print(torch.__version__)"], { encoding: "utf8" }).trim();
      for (const t of threads) {
        engines.push({
          name: `PyTorch ${version}, native CPU (tools/tnn_torch.py)`, threads: t,
          run: () => JSON.parse(execFileSync(py, [join(here, "peers/torch_prefill.py"), "--weights", weights, "--config", config, "--threads", String(t), "--n", ns.join(",")], { encoding: "utf8", maxBuffer: 1 << 24 }).trim().split("\n").pop()),
        });
      }
    }
    const ortEngines = peers.filter((p) => p.startsWith("ort-")).map((p) => p.slice(4));
    if (ortEngines.length) {
      const onnx = join(here, ".peers/gpt.onnx");
      if (!existsSync(onnx) && py) {
        mkdirSync(dirname(onnx), { recursive: true });
        execFileSync(py, [join(here, "peers/gpt_onnx.py"), onnx, "--max-positions", String(Math.max(...ns))], { stdio: ["ignore", "ignore", "inherit"] });
      }
      if (!existsSync(onnx)) notes.push("onnxruntime: no ONNX model (needs PyTorch to export it); skipped.");
      else {
        for (const engine of ortEngines) {
          for (const t of threads) {
            engines.push({
              name: `GPT-2-style transformer, onnxruntime-${engine}`, threads: t,
              run: () => {
                // Dense attention past 8K would need 8.6 GB of scores per layer at 16K: not run.
                const r = JSON.parse(execFileSync(process.execPath, [join(here, "peers/ort.mjs"), "--engine", engine, "--threads", String(t), "--n", ns.filter((n) => n <= 8192).join(","), "--runs", "1", "--model", onnx, "--json"], { encoding: "utf8", maxBuffer: 1 << 24 }).trim().split("\n").pop());
                return r.results.map((x) => ({ n: x.n, seconds: x.seconds, error: x.error ?? r.error }));
              },
            });
          }
        }
      }
    }
    const times = engines.map(() => new Map());
    for (let r = 0; r < runs; r++) {
      engines.forEach((e, i) => {
        try {
          for (const { n, seconds, error } of e.run()) (times[i].get(n) ?? times[i].set(n, []).get(n)).push(error ? error : seconds);
        } catch (err) {
          for (const n of ns) (times[i].get(n) ?? times[i].set(n, []).get(n)).push(String(err.message).split("\n")[0].slice(0, 80));
        }
      });
    }
    const cell = (i, n) => {
      const v = times[i].get(n) ?? [];
      const ok = v.filter((x) => typeof x === "number");
      return ok.length ? Math.round(n / median(ok)).toLocaleString("en-US") : v.length ? `(${v[0]})` : "—";
    };
    out.push(
      "Prefill of the paper-size LM (48.7M parameters, f32), tokens/s: the hidden states of all n positions.",
      "",
      `| engine | threads | ${ns.map((n) => `n = ${n.toLocaleString("en-US")}`).join(" | ")} |`,
      `| --- | ---: | ${ns.map(() => "---:").join(" | ")} |`,
      ...engines.map((e, i) => `| ${e.name} | ${e.threads} | ${ns.map((n) => cell(i, n)).join(" | ")} |`),
      "",
      ...notes,
      ...(notes.length ? [""] : []),
    );
  }

  if (parts.includes("decode")) {
    const res = new Map();
    const steps = quick ? 32 : 96;
    for (let r = 0; r < runs; r++) {
      for (const t of threads) {
        for (const row of runNode("decode", { build: "relaxed", threads: t, contexts, steps })) {
          const key = `${row.dtype} ${row.ctx} ${t}`;
          (res.get(key) ?? res.set(key, []).get(key)).push(row);
        }
      }
    }
    const m = (dtype, ctx, t, f) => median(res.get(`${dtype} ${ctx} ${t}`).map(f));
    out.push(
      "Decoding the paper-size LM (wasm relaxed build): ms per token after a prefill of the context; head: the 1 × 512 × 50,264 vocabulary product alone in the same storage, and its share of a step.",
      "",
      `| weights | context | ${threads.map((t) => `ms/token, ${t} thread${t > 1 ? "s" : ""}`).join(" | ")} | ${threads.map((t) => `head ms (share), ${t} thread${t > 1 ? "s" : ""}`).join(" | ")} |`,
      `| --- | ---: | ${threads.map(() => "---:").join(" | ")} | ${threads.map(() => "---:").join(" | ")} |`,
      ...["float32", "float16", "int8"].flatMap((dtype) => contexts.map((ctx) =>
        `| ${dtype} | ${ctx.toLocaleString("en-US")} | ${threads.map((t) => m(dtype, ctx, t, (x) => x.ms).toFixed(2)).join(" | ")} | ${threads.map((t) => {
          const h = m(dtype, ctx, t, (x) => x.headMs);
          return `${h.toFixed(2)} (${Math.round((100 * h) / m(dtype, ctx, t, (x) => x.ms))}%)`;
        }).join(" | ")} |`)),
      "",
    );
  }

  out.push(`Load average at the end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}; ${((Date.now() - started) / 60000).toFixed(1)} min in all.`, "");
  const text = out.join("\n");
  console.log(text);
  if (mdFile) writeFileSync(mdFile, text);
}

// Last, once every declaration above is initialised.
const child = value("child", undefined);
if (child) {
  const result = await runChild(child, JSON.parse(value("args")));
  process.stdout.write(`${JSON.stringify(result)}\n`);
  // The pool's workers are unref()ed; nothing else keeps the process.
} else {
  await orchestrate();
}
