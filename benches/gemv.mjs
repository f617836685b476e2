// Weight-storage benchmark: GFLOP/s of the dense layer with float32, float16 and int8 weights, for the
// token-by-token decode shape (m = 1..4) and prefill shapes, k = 512, n = 1536 (the paper LM's d → d1 projection),
// through the raw wasm kernels (pkg/simd or pkg/scalar).
//   - "cache": the same matrix again and again, so the weights sit in cache;
//   - "stream": cycling through ~96 MB of distinct matrices per dtype (3× the L3 here), so every call reads its
//     weights from memory, as a decoder walking all the layers of a large model does.
// Best of three runs per row. Correctness is the tests' job (crates/tnn-kernels/tests, test/runtimes/kernel-checks.ts).
//
// Usage: node benches/gemv.mjs [--build simd|scalar] [--rows 1,2,3,4,8,64] [--no-stream]
// Needs `npm run build:wasm`.
import { readFileSync } from "node:fs";

const argv = process.argv.slice(2);
const value = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const build = value("build", "simd");
const rows = value("rows", "1,2,3,4,8,64").split(",").map(Number);
const mod = await import(new URL(`../pkg/${build}/tnn.js`, import.meta.url));
const wasm = mod.initSync({ module: readFileSync(new URL(`../pkg/${build}/tnn_bg.wasm`, import.meta.url)) });
const K = 512, N = 1536;

let seed = 1;
function randomF32(n) {
  const p = mod.alloc(4 * n);
  const a = new Float32Array(wasm.memory.buffer, p, n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    a[i] = (seed / 2 ** 32) * 2 - 1;
  }
  return p;
}
/** The three storages of the f32 matrix at `w`: f32 pointer, f16 pointer, [int8 codes, scales]. */
function storages(w) {
  const w16 = mod.alloc(2 * N * K), q = mod.alloc(N * K), s = mod.alloc(4 * N);
  mod.f32_to_f16(w, w16, N * K);
  mod.quantize_rows_i8(w, N, K, q, s);
  return { f32: w, f16: w16, int8: [q, s] };
}
const bias = randomF32(N);
const run = {
  f32: (x, w, y, m) => mod.gemm(x, w, bias, y, m, K, N),
  f16: (x, w, y, m) => mod.gemm_f16(x, w, bias, y, m, K, N),
  int8: (x, [q, s], y, m) => mod.gemm_i8(x, q, s, bias, y, m, K, N),
};

/** Best-of-three GFLOP/s of `calls` products of m rows. */
function gflops(m, calls) {
  const flop = 2 * m * K * N;
  let best = Infinity;
  for (let t = 0; t < 3; t++) {
    calls[0]();
    const t0 = performance.now();
    for (const f of calls) f();
    best = Math.min(best, (performance.now() - t0) / calls.length);
  }
  return flop / best / 1e6;
}

const one = storages(randomF32(N * K));
// Enough distinct matrices that the f32 set alone is ~96 MB; the f16 and int8 sets are views of the same weights.
const many = argv.includes("--no-stream") ? [] : Array.from({ length: Math.ceil(96e6 / (4 * N * K)) }, () => storages(randomF32(N * K)));
const table = [];
for (const m of rows) {
  const x = randomF32(m * K), y = mod.alloc(4 * m * N);
  const reps = Math.max(4, Math.ceil(3e8 / (2 * m * K * N)));
  const row = { m };
  for (const dtype of ["f32", "f16", "int8"]) {
    row[`${dtype} cache`] = gflops(m, Array.from({ length: reps }, () => () => run[dtype](x, one[dtype], y, m)));
    if (many.length) row[`${dtype} stream`] = gflops(m, many.map((s) => () => run[dtype](x, s[dtype], y, m)));
  }
  table.push(row);
}
const cols = Object.keys(table[0]);
console.log(`GFLOP/s, ${build} wasm, k = ${K}, n = ${N}, Node ${process.versions.node}\n`);
console.log(`| ${cols.join(" | ")} |\n|${cols.map(() => " ---: ").join("|")}|`);
for (const r of table) console.log(`| ${cols.map((c) => (c === "m" ? r[c] : r[c].toFixed(1))).join(" | ")} |`);
