// Decoding where memory is short: the paper-size LM (random weights, int8) decodes 1,039 positions (a 16-token prompt
// and 1,023 steps, as `generate()` with 1,024 new tokens) twice in one process:
//   - "full": the default budget (4 GiB), so the decoder grows through the length buckets with full-table kernels;
//   - "short": a Worker's budget (128 MiB), where the full kernels of the 2,048 bucket do not fit, so the decoder sizes
//     one state per layer to the 1,039 positions at once and keeps short kernels, evaluating the RPE for the lags a
//     block reads past their 64 rows when it fires.
// Teacher-forced on the same ids, so the two runs' logits are compared too (largest difference relative to the largest
// |logit|). Each repetition loads a fresh model (no kernels cached from the other run); repetitions alternate.
//
// Usage: node benches/short-kernels.mjs [--runs 2] [--md FILE]
// Needs `npm run build`.
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { lmConfig, randomStateDict } from "./helpers/paper-model.mjs";

const argv = process.argv.slice(2);
const value = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const runs = Number(value("runs", "2"));
const mdFile = value("md", undefined);
const PROMPT = 16;
const POSITIONS = PROMPT + 1023;

const tnn = await import(new URL("../dist/index.js", import.meta.url).href);
await tnn.init();
const cfg = lmConfig();
const weights = randomStateDict(cfg, 2023);
let s = 5;
const ids = Int32Array.from({ length: POSITIONS }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) % cfg.vocab_size);

async function run(kind) {
  tnn.setMemoryBudget(kind === "short" ? 128 * 2 ** 20 : 2 ** 32);
  const model = await tnn.loadModel(weights, { config: cfg, dtype: "int8", tokenizer: "none" });
  const dec = model.decoder({ maxLength: PROMPT + 1, limit: POSITIONS });
  const logits = new Float32Array(POSITIONS * cfg.vocab_size);
  const ms = [];
  let peakHeap = 0;
  try {
    dec.prefill(ids.subarray(0, PROMPT), logits.subarray((PROMPT - 1) * cfg.vocab_size, PROMPT * cfg.vocab_size));
    for (let t = PROMPT; t < POSITIONS; t++) {
      const t0 = performance.now();
      dec.step(ids[t], logits.subarray(t * cfg.vocab_size, (t + 1) * cfg.vocab_size));
      ms.push(performance.now() - t0);
      peakHeap = Math.max(peakHeap, tnn.heapInUse());
    }
    return { kind, capacity: dec.capacity, stateBytes: dec.memoryBytes, kernelCacheBytes: model.decodeKernels.memoryBytes, peakHeap, ms, logits };
  } finally {
    dec.dispose();
    model.dispose();
    tnn.setMemoryBudget(2 ** 32);
  }
}

function stats(ms) {
  const sorted = [...ms].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  return { mean: ms.reduce((a, b) => a + b, 0) / ms.length, p50: q(0.5), p99: q(0.99), max: sorted.at(-1) };
}

const load0 = loadavg()[0];
const results = { full: [], short: [] };
for (let r = 0; r < runs; r++) for (const kind of r % 2 ? ["short", "full"] : ["full", "short"]) results[kind].push(await run(kind));

let worst = 0;
let scale = 0;
const [a, b] = [results.full[0].logits, results.short[0].logits];
for (let i = (PROMPT - 1) * cfg.vocab_size; i < a.length; i++) {
  worst = Math.max(worst, Math.abs(a[i] - b[i]));
  scale = Math.max(scale, Math.abs(a[i]));
}

const mib = (x) => (x / 2 ** 20).toFixed(1);
const lines = [
  `${cpus()[0].model}, ${cpus().length} cores, Node ${process.version}, ${tnn.backendInfo().build} build, ${tnn.backendInfo().threads} thread(s); ` +
    `load average ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end; ${runs} runs, the faster mean shown.`,
  "",
  "| kernels | state capacity | states MiB | kernels cached MiB | heap in use, peak MiB | ms/token mean | p50 | p99 | max |",
  "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
];
for (const kind of ["full", "short"]) {
  const best = results[kind].map((x) => ({ ...x, st: stats(x.ms) })).sort((x, y) => x.st.mean - y.st.mean)[0];
  const st = best.st;
  lines.push(
    `| ${kind} | ${best.capacity} | ${mib(best.stateBytes)} | ${mib(best.kernelCacheBytes)} | ${mib(best.peakHeap)} | ` +
      `${st.mean.toFixed(2)} | ${st.p50.toFixed(2)} | ${st.p99.toFixed(2)} | ${st.max.toFixed(1)} |`,
  );
}
lines.push("", `Teacher-forced logits, short against full kernels: largest difference ${worst.toExponential(2)}, relative to the largest |logit| ${(worst / scale).toExponential(2)}.`);
const md = lines.join("\n");
console.log(md);
if (mdFile) writeFileSync(mdFile, md + "\n");
