// Prefill peer: time an ONNX model (benches/peers/gpt_onnx.py's GPT) in onnxruntime-node (native) or
// onnxruntime-web (wasm) at a fixed thread count. For each n: one warm-up run at that n, then R timed runs of the
// whole n-token input; reports the median seconds, tokens/s, and CPU time per wall time (about T when T threads
// really work, about 1 when they do not).
//
// Usage: node benches/peers/ort.mjs --engine node|web --threads T --n 512,2048,8192 --runs R --model OUT.onnx [--json]
//
// The runtimes live in benches/.peers, a throwaway install directory kept out of the project's dependencies; they
// are installed there on first use.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const VERSION = "1.30.0";
const VOCAB = 50264;

const argv = process.argv.slice(2);
const value = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const engine = value("engine", "node");
const threads = Number(value("threads", "1"));
const lengths = value("n", "512,2048").split(",").map(Number);
const runs = Number(value("runs", "3"));
const modelFile = value("model");
const json = argv.includes("--json");
if (!["node", "web"].includes(engine) || !(threads >= 1) || !(runs >= 1) || !modelFile) {
  console.error("usage: node benches/peers/ort.mjs --engine node|web --threads T --n 512,2048 --runs R --model OUT.onnx [--json]");
  process.exit(2);
}
const pkgName = engine === "node" ? "onnxruntime-node" : "onnxruntime-web";

const peers = fileURLToPath(new URL("../.peers/", import.meta.url));
if (!existsSync(join(peers, "node_modules/onnxruntime-node/package.json"))
  || !existsSync(join(peers, "node_modules/onnxruntime-web/package.json"))) {
  mkdirSync(peers, { recursive: true });
  // Nothing in the throwaway directory belongs in git.
  writeFileSync(join(peers, ".gitignore"), "*\n");
  // stdout would corrupt --json's single line.
  console.error(`installing onnxruntime-node and onnxruntime-web ${VERSION} into ${peers}`);
  execFileSync("npm", ["install", "--prefix", peers, "--no-save", "--no-audit", "--no-fund",
    `onnxruntime-node@${VERSION}`, `onnxruntime-web@${VERSION}`], {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      // onnxruntime-node's postinstall only fetches optional CUDA binaries (from NuGet, unreachable here); the CPU
      // binaries are in the npm package.
      ONNXRUNTIME_NODE_INSTALL: "skip",
      // npm and its install scripts run on the Node running this benchmark, not whatever `node` is on PATH.
      PATH: `${dirname(process.execPath)}:${process.env.PATH}`,
    },
  });
}
const require = createRequire(join(peers, "package.json"));
const ort = require(pkgName);
// Read directly: onnxruntime-web's exports do not include its package.json.
const version = JSON.parse(readFileSync(join(peers, "node_modules", pkgName, "package.json"), "utf8")).version;

// The 1-minute load average before this run: on a shared machine, multi-thread timings mean little when it is high.
const report = { engine: pkgName, version, threads, loadavg: +loadavg()[0].toFixed(2), results: [] };
const options = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all" };
let session;
try {
  if (engine === "web") {
    ort.env.wasm.numThreads = threads;
    // Only SIMD builds ship; asking for SIMD makes its absence an error instead of a silent surprise.
    ort.env.wasm.simd = true;
    options.executionProviders = ["wasm"];
  } else {
    options.executionProviders = ["cpu"];
  }
  session = await ort.InferenceSession.create(readFileSync(modelFile), options);
  // onnxruntime-web falls back to one thread, with only a console warning, where it cannot start workers, and then
  // writes the fallback into env.wasm.numThreads.
  if (engine === "web" && ort.env.wasm.numThreads !== threads) {
    throw new Error(`asked for ${threads} wasm threads, onnxruntime-web runs ${ort.env.wasm.numThreads}`);
  }
} catch (e) {
  report.error = String(e?.message ?? e);
}

/** n pseudo-random token ids (a fixed LCG, so every engine sees the same input). */
function tokens(n) {
  const ids = new BigInt64Array(n);
  let s = 1;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    ids[i] = BigInt(s % VOCAB);
  }
  return ids;
}

/** Seconds and CPU seconds (all of this process's threads, workers included) for one prefill of `feeds`. */
async function timed(feeds) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await session.run(feeds);
  const seconds = (performance.now() - t0) / 1e3;
  const c = process.cpuUsage(c0);
  for (const t of Object.values(out)) t.dispose?.();
  return { seconds, cpu: (c.user + c.system) / 1e6 };
}

for (const n of session ? lengths : []) {
  try {
    const feeds = { input_ids: new ort.Tensor("int64", tokens(n), [1, n]) };
    await timed(feeds);
    const times = [];
    for (let r = 0; r < runs; r++) times.push(await timed(feeds));
    const sorted = times.map((t) => t.seconds).sort((a, b) => a - b);
    const seconds = runs % 2 ? sorted[(runs - 1) / 2] : (sorted[runs / 2 - 1] + sorted[runs / 2]) / 2;
    const cpuPerWall = times.reduce((a, t) => a + t.cpu, 0) / times.reduce((a, t) => a + t.seconds, 0);
    report.results.push({
      n, seconds: +seconds.toFixed(4), tokensPerSecond: Math.round(n / seconds), cpuPerWall: +cpuPerWall.toFixed(2),
    });
  } catch (e) {
    report.results.push({ n, error: String(e?.message ?? e) });
  }
}
await session?.release();

if (json) {
  console.log(JSON.stringify(report));
} else {
  console.log(`${report.engine} ${report.version}, ${threads} thread${threads > 1 ? "s" : ""}, ${runs} runs per n, `
    + `load average ${report.loadavg}`);
  if (report.error) console.log(`error: ${report.error}`);
  for (const r of report.results) {
    console.log(r.error
      ? `n ${String(r.n).padStart(6)}  error: ${r.error}`
      : `n ${String(r.n).padStart(6)}  ${r.seconds.toFixed(3).padStart(8)} s  ${String(r.tokensPerSecond).padStart(7)} tok/s  cpu/wall ${r.cpuPerWall.toFixed(2)}`);
  }
}
// onnxruntime-web's pthread workers would keep the process alive.
process.exit(0);
