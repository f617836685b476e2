#!/usr/bin/env node
// `npm run bench`: runs every benchmark in benches/, one process each, at quick sizes unless --full, and prints
// markdown ready for benches/RESULTS.md: one section per benchmark, headed by the command and the conditions it ran
// under (CPU model, cores, runtime and version, wasm build, load average before and after, date, duration), then the
// benchmark's own tables. A timing means little without them: this project's machines are shared 2-core VMs whose
// load changes figures by 2-5x.
//
// Usage: node benches/run.mjs [--full] [--only toeplitz,decode] [--out FILE]
//   --full   each benchmark at its default (RESULTS.md) sizes: tens of minutes; default is their --quick sizes
//   --only   run these benchmarks only (file names without .mjs)
//   --out    also write the markdown to FILE
// Needs the wasm and TypeScript builds (`npm start` or `npm test` bootstrap them).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { arch, availableParallelism, cpus, loadavg, platform, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
const root = join(here, "..");
const argv = process.argv.slice(2);
const value = (name) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const full = argv.includes("--full");

/**
 * Every benchmark, with the arguments of its quick run and the wasm build it measures. A .mjs file in benches/ that
 * is not listed here stops the run: a new benchmark must say how to run it quickly.
 */
const BENCHES = {
  "toeplitz.mjs": { title: "Toeplitz mixing against naive, fft.js and PFFFT-wasm", quick: ["--quick"], build: "simd (pkg/simd)" },
  "decode.mjs": { title: "Decoding: online against naive, Toeplitz part and the shipped model's stack", quick: ["--quick"], build: "simd (pkg/simd)" },
  "gemv.mjs": { title: "Dense layer GFLOP/s per weight storage", quick: [], build: "simd (pkg/simd)" },
  "long-input.mjs": { title: "Paper-shaped LM on one long input", quick: ["--quick"], build: "init()'s choice" },
  "extrapolation.mjs": { title: "Bits per byte by context length (the paper's headline)", quick: ["--quick"], build: "init()'s choice" },
  "first-token.mjs": { title: "First token and peak RSS against maxNewTokens", quick: ["--runs", "2"], build: "init()'s choice" },
  "fuzz.mjs": { title: "Fuzzing the public API", quick: ["--cases", "2000"], build: "init()'s choice" },
  "threads.mjs": { title: "Threads and fused multiply-add: GEMM per build, prefill and decode against PyTorch and onnxruntime", quick: ["--quick"], build: "each build, 1 and 2 threads" },
  "window.mjs": { title: "Windowed decoding: memory and time per token against the context", quick: ["--quick", "--contexts", "1024,16384"], build: "simd (pkg/simd) and init()'s choice" },
  "window-exactness.mjs": { title: "Windowed decoding against full-history references", quick: ["--quick"], build: "init()'s choice" },
};
/** benches/ files that are not benchmarks. */
const NOT_BENCHES = new Set(["run.mjs"]);

const found = readdirSync(here).filter((f) => f.endsWith(".mjs") && !NOT_BENCHES.has(f)).sort();
const unknown = found.filter((f) => !(f in BENCHES));
if (unknown.length) {
  console.error(`benches/run.mjs: no entry for ${unknown.join(", ")}: add it to BENCHES with its quick arguments`);
  process.exit(2);
}
const only = value("only")?.split(",").map((n) => (n.endsWith(".mjs") ? n : `${n}.mjs`));
for (const n of only ?? []) {
  if (!found.includes(n)) {
    console.error(`benches/run.mjs: --only ${n}: no such benchmark (${found.join(", ")})`);
    process.exit(2);
  }
}
for (const f of ["pkg/simd/tnn_bg.wasm", "dist/index.js"]) {
  if (!existsSync(join(root, f))) {
    console.error(`benches/run.mjs: ${f} is missing; build first (npm start, or npm run build)`);
    process.exit(2);
  }
}

/** Whether this engine validates simd128 code: init()'s own test for its build (the probe of ts/core/wasm.ts). */
function simdSupported() {
  // (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt))
  const probe = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
  return WebAssembly.validate(probe);
}

const engine = `Node ${process.versions.node} (V8 ${process.versions.v8})`;
const cpu = `${cpus()[0]?.model.trim() || "unknown CPU"}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${arch()}`;
const la = (l) => l.map((x) => x.toFixed(2)).join(" / ");

function runOne(file, args) {
  return new Promise((resolve, reject) => {
    // stdout is the benchmark's markdown; its progress (stderr) goes to the terminal as it comes.
    const child = spawn(process.execPath, [join(here, file), ...args], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} exited with ${code}\n${out}`))));
  });
}

const sections = [];
const runStart = Date.now();
for (const file of (only ?? found)) {
  const b = BENCHES[file];
  const args = full ? [] : b.quick;
  const command = `node benches/${file}${args.length ? ` ${args.join(" ")}` : ""}`;
  console.error(`bench: ${command}`);
  const before = loadavg();
  const t0 = Date.now();
  const out = await runOne(file, args);
  const seconds = (Date.now() - t0) / 1000;
  const after = loadavg();
  const build = b.build === "init()'s choice" ? `${simdSupported() ? "simd" : "scalar"} (init()'s choice on this engine)` : b.build;
  sections.push([
    `### ${b.title} — \`${command}\``,
    "",
    `Conditions: ${cpu}; ${engine}; wasm ${build}; load average (1/5/15 min) ${la(before)} before, ${la(after)} after; ` +
      `${new Date(t0).toISOString().slice(0, 16).replace("T", " ")} UTC, ${seconds.toFixed(0)} s${full ? "" : "; quick sizes"}.`,
    "",
    out.trim(),
    "",
  ].join("\n"));
}
const md = `## npm run bench${full ? " -- --full" : ""}, ${new Date(runStart).toISOString().slice(0, 10)}\n\n${sections.join("\n")}`;
process.stdout.write(md);
const outFile = value("out");
if (outFile) writeFileSync(outFile, md);
console.error(`bench: ${sections.length} benchmarks in ${((Date.now() - runStart) / 1000).toFixed(0)} s`);
