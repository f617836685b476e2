// Toeplitz mixing benchmark: our wasm FFT path against three references in one process:
//   naive  — the O(n²) product in plain JS (float64 accumulators);
//   fft.js — a pure-JS FFT convolution on npm `fft.js` (real forward transform, cached kernel spectra);
//   pffft  — the same convolution with @echogarden/pffft-wasm's simd build (cached kernel spectra).
// plus a simd128 multiply-add peak measured in this process, so GFLOP/s figures have a ceiling beside them.
//
// Usage: node benches/toeplitz.mjs [--quick] [--md FILE]   (writes a markdown table to stdout or FILE)
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import FFT from "fft.js";
import PFFFT from "@echogarden/pffft-wasm/simd";
import wabtInit from "wabt";
import initKernels, * as k from "../pkg/simd/tnn.js";

const quick = process.argv.includes("--quick");
const mdIdx = process.argv.indexOf("--md");
const mdFile = mdIdx > 0 ? process.argv[mdIdx + 1] : undefined;

const wasmExports = await initKernels({ module_or_path: readFileSync(new URL("../pkg/simd/tnn_bg.wasm", import.meta.url)) });
const f32 = (ptr, len) => new Float32Array(wasmExports.memory.buffer, ptr, len);

/** Median seconds per call of `fn`, running it until `minTime` seconds or `maxReps` calls have passed. */
function time(fn, { minTime = quick ? 0.15 : 0.5, maxReps = 200, warmup = true } = {}) {
  if (warmup) fn(); // JIT, page faults, plan caches
  const samples = [];
  const start = performance.now();
  while (samples.length === 0 || (samples.length < maxReps && (performance.now() - start) / 1000 < minTime)) {
    const t0 = performance.now();
    fn();
    samples.push((performance.now() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

function fftLength(n) {
  let l = 1;
  while (l < 2 * n - 1) l <<= 1;
  return l;
}

/** Floating-point work of one channel's FFT convolution with a cached kernel spectrum, the usual 5N·log2(N)
 *  convention for a complex FFT halved for real input, times two transforms, plus the spectral product. */
function convFlops(n) {
  const L = fftLength(n);
  return 2 * 2.5 * L * Math.log2(L) + 6 * (L / 2 + 1);
}

function randomArray(len, seed) {
  let s = seed >>> 0;
  const a = new Float32Array(len);
  for (let i = 0; i < len; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

// --- ours --------------------------------------------------------------------------------------------------
function oursFft(n, c, x, coeffs) {
  const xp = k.alloc(n * c * 4), yp = k.alloc(n * c * 4), cp = k.alloc(n * c * 4);
  f32(xp, n * c).set(x);
  f32(cp, n * c).set(coeffs);
  const plan = new k.ToeplitzPlan(n, c, true);
  const slen = plan.spectra_len();
  const sp = k.alloc(slen * 4);
  plan.spectra(cp, sp);
  const run = () => plan.apply(xp, sp, yp);
  const sec = time(run);
  const y = f32(yp, n * c).slice();
  plan.free();
  for (const [p, b] of [[xp, n * c * 4], [yp, n * c * 4], [cp, n * c * 4], [sp, slen * 4]]) k.dealloc(p, b);
  return { sec, y };
}

function oursDirect(n, c, x, coeffs) {
  const xp = k.alloc(n * c * 4), yp = k.alloc(n * c * 4), cp = k.alloc(n * c * 4);
  f32(xp, n * c).set(x);
  f32(cp, n * c).set(coeffs);
  const sec = time(() => k.toeplitz_direct(xp, cp, yp, n, c, true), { maxReps: 5 });
  for (const [p, b] of [[xp, n * c * 4], [yp, n * c * 4], [cp, n * c * 4]]) k.dealloc(p, b);
  return { sec };
}

// --- naive JS ----------------------------------------------------------------------------------------------
function naive(n, c, x, coeffs) {
  const y = new Float32Array(n * c);
  const acc = new Float64Array(c);
  const run = () => {
    for (let i = 0; i < n; i++) {
      acc.fill(0);
      for (let j = 0; j <= i; j++) {
        const t = (i - j) * c, xs = j * c;
        for (let ch = 0; ch < c; ch++) acc[ch] += coeffs[t + ch] * x[xs + ch];
      }
      for (let ch = 0; ch < c; ch++) y[i * c + ch] = acc[ch];
    }
  };
  const sec = time(run, { maxReps: 1, minTime: 0, warmup: false });
  return { sec, y };
}

// --- fft.js ------------------------------------------------------------------------------------------------
function fftjs(n, c, x, coeffs) {
  const L = fftLength(n);
  const f = new FFT(L);
  const col = new Array(L).fill(0);
  const spec = f.createComplexArray();
  const out = f.createComplexArray();
  const kernels = [];
  for (let ch = 0; ch < c; ch++) {
    col.fill(0);
    for (let i = 0; i < n; i++) col[i] = coeffs[i * c + ch];
    const s = f.createComplexArray();
    f.realTransform(s, col);
    f.completeSpectrum(s);
    kernels.push(s);
  }
  const y = new Float32Array(n * c);
  const run = () => {
    for (let ch = 0; ch < c; ch++) {
      col.fill(0);
      for (let i = 0; i < n; i++) col[i] = x[i * c + ch];
      f.realTransform(spec, col);
      f.completeSpectrum(spec);
      const kk = kernels[ch];
      for (let i = 0; i < 2 * L; i += 2) {
        const re = spec[i] * kk[i] - spec[i + 1] * kk[i + 1];
        const im = spec[i] * kk[i + 1] + spec[i + 1] * kk[i];
        spec[i] = re;
        spec[i + 1] = im;
      }
      f.inverseTransform(out, spec);
      for (let i = 0; i < n; i++) y[i * c + ch] = out[2 * i];
    }
  };
  const sec = time(run, { maxReps: 20 });
  return { sec, y };
}

// --- PFFFT (wasm simd) -------------------------------------------------------------------------------------
const pf = await PFFFT();
function pffft(n, c, x, coeffs) {
  const L = fftLength(n);
  const setup = pf._pffft_new_setup(L, 0 /* PFFFT_REAL */);
  const inP = pf._pffft_aligned_malloc(L * 4), outP = pf._pffft_aligned_malloc(L * 4);
  const workP = pf._pffft_aligned_malloc(L * 4), accP = pf._pffft_aligned_malloc(L * 4);
  const kernP = pf._pffft_aligned_malloc(L * 4 * c);
  const heap = () => pf.HEAPF32;
  for (let ch = 0; ch < c; ch++) {
    const h = heap();
    h.fill(0, inP >> 2, (inP >> 2) + L);
    for (let i = 0; i < n; i++) h[(inP >> 2) + i] = coeffs[i * c + ch];
    pf._pffft_transform(setup, inP, kernP + ch * L * 4, workP, 0 /* forward */);
  }
  const y = new Float32Array(n * c);
  const run = () => {
    for (let ch = 0; ch < c; ch++) {
      const h = heap();
      const base = inP >> 2;
      h.fill(0, base + n, base + L);
      for (let i = 0; i < n; i++) h[base + i] = x[i * c + ch];
      pf._pffft_transform(setup, inP, outP, workP, 0);
      h.fill(0, accP >> 2, (accP >> 2) + L);
      pf._pffft_zconvolve_accumulate(setup, outP, kernP + ch * L * 4, accP, 1 / L);
      pf._pffft_transform(setup, accP, outP, workP, 1 /* backward */);
      const h2 = heap();
      for (let i = 0; i < n; i++) y[i * c + ch] = h2[(outP >> 2) + i];
    }
  };
  const sec = time(run, { maxReps: 50 });
  for (const p of [inP, outP, workP, accP, kernP]) pf._pffft_aligned_free(p);
  pf._pffft_destroy_setup(setup);
  return { sec, y };
}

// --- simd128 peak --------------------------------------------------------------------------------------------
async function simdPeak() {
  // 8 independent f32x4 multiply-add chains per iteration hide the add latency: 8 × 4 lanes × 2 flops.
  const chains = 8;
  const locals = Array.from({ length: chains }, (_, i) => `(local $a${i} v128)`).join(" ");
  const init = Array.from({ length: chains }, (_, i) => `(local.set $a${i} (f32x4.splat (f32.const ${i + 1}.0)))`).join("\n");
  const body = Array.from({ length: chains }, (_, i) => `(local.set $a${i} (f32x4.add (f32x4.mul (local.get $a${i}) (local.get $m)) (local.get $b)))`).join("\n");
  const sum = Array.from({ length: chains - 1 }, (_, i) => `(local.set $a0 (f32x4.add (local.get $a0) (local.get $a${i + 1})))`).join("\n");
  const wat = `(module (func (export "run") (param $n i32) (result f32) ${locals} (local $m v128) (local $b v128)
    (local.set $m (f32x4.splat (f32.const 0.999999))) (local.set $b (f32x4.splat (f32.const 0.000001)))
    ${init}
    (block $done (loop $top (br_if $done (i32.eqz (local.get $n))) ${body}
      (local.set $n (i32.sub (local.get $n) (i32.const 1))) (br $top)))
    ${sum}
    (f32x4.extract_lane 0 (local.get $a0))))`;
  const wabt = await wabtInit();
  const mod = wabt.parseWat("peak.wat", wat, { simd: true });
  const { buffer } = mod.toBinary({});
  const { instance } = await WebAssembly.instantiate(buffer);
  const iters = 20_000_000;
  const sec = time(() => instance.exports.run(iters), { maxReps: 5 });
  return (iters * chains * 4 * 2) / sec / 1e9;
}

function relErr(a, b) {
  let m = 0, d = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(b[i]));
    d = Math.max(d, Math.abs(a[i] - b[i]));
  }
  return d / (m || 1);
}

// --- run ---------------------------------------------------------------------------------------------------
const peak = await simdPeak();
const ns = quick ? [256, 2048, 16384] : [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];
const ds = [64, 512];
const rows = [];
for (const d of ds) {
  for (const n of ns) {
    if (n * d > 65536 * 512) continue;
    const x = randomArray(n * d, n + d);
    const coeffs = randomArray(n * d, 7 * n + d);
    const ours = oursFft(n, d, x, coeffs);
    const fj = fftjs(n, d, x, coeffs);
    const pff = pffft(n, d, x, coeffs);
    // The naive product is O(n²·d): run it only where it finishes in seconds.
    const nv = n * n * d <= 2048 * 2048 * 512 ? naive(n, d, x, coeffs) : undefined;
    const direct = n <= 4096 ? oursDirect(n, d, x, coeffs) : undefined;
    const check = Math.max(relErr(ours.y, pff.y), nv ? relErr(ours.y, nv.y) : 0);
    const gflops = (convFlops(n) * d) / ours.sec / 1e9;
    rows.push({ n, d, ours: ours.sec, direct: direct?.sec, naive: nv?.sec, fftjs: fj.sec, pffft: pff.sec, gflops, check });
    console.error(`n=${n} d=${d}: ours ${(ours.sec * 1e3).toFixed(2)} ms, pffft ${(pff.sec * 1e3).toFixed(2)} ms, fft.js ${(fj.sec * 1e3).toFixed(2)} ms${nv ? `, naive ${(nv.sec * 1e3).toFixed(0)} ms` : ""}`);
  }
}

const ms = (s) => (s === undefined ? "—" : (s * 1e3).toFixed(s < 0.01 ? 3 : 1));
const ratio = (a, b) => (a === undefined ? "—" : (a / b).toFixed(2) + "×");
let md = `Toeplitz mixing, causal, one thread, ${cpus()[0]?.model ?? "unknown CPU"}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.\n`;
md += `Times in ms (median). Ratios are reference time / our FFT path time (higher = we are faster). `;
md += `GFLOP/s-equivalent counts 2 real FFTs of length L = 2^⌈log2(2n−1)⌉ at 2.5·L·log2 L each plus the spectral product, per channel. `;
md += `simd128 multiply-add peak measured in the same process: **${peak.toFixed(1)} GFLOP/s**.\n\n`;
md += "| n | d | ours FFT | ours direct | naive JS | fft.js | PFFFT wasm | vs naive | vs fft.js | vs PFFFT | GFLOP/s-eq | % of peak | max rel. err |\n";
md += "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
for (const r of rows) {
  md += `| ${r.n} | ${r.d} | ${ms(r.ours)} | ${ms(r.direct)} | ${ms(r.naive)} | ${ms(r.fftjs)} | ${ms(r.pffft)} | ${ratio(r.naive, r.ours)} | ${ratio(r.fftjs, r.ours)} | ${ratio(r.pffft, r.ours)} | ${r.gflops.toFixed(2)} | ${((100 * r.gflops) / peak).toFixed(1)}% | ${r.check.toExponential(1)} |\n`;
}
if (mdFile) writeFileSync(mdFile, md);
console.log(md);
