/**
 * Kernel checks run once per wasm build (relaxed SIMD, simd128 and scalar), each in its own test file because one realm
 * loads one build. Every kernel is compared with a float64 JavaScript reference written from its definition in
 * ARCHITECTURE.md; odd sizes exercise the SIMD tails.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  DTypeError, QuantizedMatrix, ShapeError, Tensor, ToeplitzPlan, ValueRangeError, backendInfo, embedding, f16ToF32, f32ToF16,
  gelu, init,
  layerNorm, matmul, rpeForward, rpePackedLength, silu, simpleRmsNorm, toeplitzCoeffRows, toeplitzCrossover, toeplitzDirect,
} from "../../ts/core/index.js";
import { values } from "../helpers/values.js";

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** erf to ~1e-15 by its Maclaurin series (|x| < 3) and continued fraction beyond: enough for an f32 GELU reference. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x, sum = x;
    for (let n = 1; n < 80; n++) {
      term *= (-x * x) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let k = 60; k >= 1; k--) f = (k / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

/** max |a − b| / max |b|: the error measure of the Toeplitz benchmarks. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  return maxAbsDiff(a, b) / (scale || 1);
}

/** The RPE MLP in float64, from the architecture page: z = W_pos k + b_pos; R × (z = W_r ReLU(SRMS z) + b_r);
 *  out = W_out ReLU(SRMS z) + b_out; SRMS(z) = z / (‖z‖/√e + 1e-8); times γ^|k| for k ≠ 0. Reads the packed layout. */
function rpe64(packed: Float32Array, e: number, R: number, d1: number, k: number, gamma?: Float32Array): Float64Array {
  let o = 0;
  const take = (len: number) => packed.subarray(o, (o += len));
  const posW = take(e), posB = take(e);
  let z = Float64Array.from({ length: e }, (_, i) => posW[i]! * k + posB[i]!);
  const act = (v: Float64Array) => {
    const rms = Math.sqrt(v.reduce((a, b) => a + b * b, 0) / v.length) + 1e-8;
    return v.map((x) => Math.max(x / rms, 0));
  };
  const lin = (v: Float64Array, w: Float32Array, b: Float32Array, out: number) =>
    Float64Array.from({ length: out }, (_, r) => {
      let acc = b[r]!;
      for (let j = 0; j < v.length; j++) acc += w[r * v.length + j]! * v[j]!;
      return acc;
    });
  for (let r = 0; r < R; r++) {
    const w = take(e * e), b = take(e);
    z = lin(act(z), w, b, e);
  }
  const outW = take(d1 * e), outB = take(d1);
  const y = lin(act(z), outW, outB, d1);
  if (gamma && k !== 0) for (let c = 0; c < d1; c++) y[c] = y[c]! * Math.pow(gamma[c]!, Math.abs(k));
  return y;
}

/** y[t] = Σ_s coeff(t - s) · x[s], per channel; causal uses offsets ≥ 0 only. */
function naiveToeplitz(x: Float32Array, coeffs: Float32Array, n: number, c: number, causal: boolean): Float64Array {
  const y = new Float64Array(n * c);
  for (let t = 0; t < n; t++) {
    for (let s = 0; s < n; s++) {
      const k = t - s;
      if (causal && k < 0) continue;
      const row = causal ? k : k + n - 1;
      for (let ch = 0; ch < c; ch++) y[t * c + ch] = y[t * c + ch]! + coeffs[row * c + ch]! * x[s * c + ch]!;
    }
  }
  return y;
}

export function describeKernelChecks(build: "relaxed" | "simd" | "scalar", options: { threads?: number } = {}): void {
  const threads = build === "scalar" ? 1 : options.threads;
  describe(`the ${build} wasm build${threads ? ` on ${threads} thread(s)` : ""}`, () => {
    beforeAll(async () => {
      await init({ simd: build !== "scalar", relaxedSimd: build === "relaxed", ...(threads ? { threads } : {}) });
    });

    it(`is the one loaded`, () => {
      expect(backendInfo()?.build).toBe(build);
      if (threads) expect(backendInfo()?.threads).toBe(threads);
    });

    it("matmul (f32 and f16 weights, with bias) matches float64, for decode-sized and prefill-sized inputs", () => {
      const [k, n] = [37, 19];
      const ws = values(n * k, 2), bs = values(n, 3);
      const w = Tensor.from(ws, [n, k]), b = Tensor.from(bs, [n]);
      const w16 = f32ToF16(w);
      const w16f = f16ToF32(w16).toArray();
      // m <= 4 reads f16 weights directly; larger m widens them into panels first.
      for (const m of [1, 3, 7]) {
        const xs = values(m * k, 1);
        const x = Tensor.from(xs, [m, k]);
        for (const [weights, wv] of [[w, ws], [w16, w16f]] as const) {
          const y = matmul(x, weights, b);
          const want = new Float64Array(m * n);
          for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
            let s = bs[j]!;
            for (let p = 0; p < k; p++) s += xs[i * k + p]! * wv[j * k + p]!;
            want[i * n + j] = s;
          }
          expect(maxAbsDiff(y.toArray(), want)).toBeLessThan(1e-5);
          y.dispose();
        }
        x.dispose();
      }
      for (const t of [w, b, w16]) t.dispose();
    });

    it("int8 weights: quantization within half a step, matmul (m = 1 and m > 2) and embedding match float64", () => {
      const [k, n] = [37, 19];
      // Rows of very different magnitudes, one all zero, one whose extreme is negative.
      const ws = values(n * k, 12).map((v, i) => v * 10 ** ((Math.floor(i / k) % 5) - 2));
      ws.fill(0, 3 * k, 4 * k);
      ws[5 * k + 7] = -50;
      const w = Tensor.from(ws, [n, k]);
      const q = QuantizedMatrix.quantize(w);
      const codes = q.codes.toArray(), scales = q.scales.toArray();
      for (let j = 0; j < n; j++) {
        let max = 0;
        for (let p = 0; p < k; p++) max = Math.max(max, Math.abs(ws[j * k + p]!));
        expect(scales[j]).toBeCloseTo(max / 127, 6);
        for (let p = 0; p < k; p++) {
          expect(Math.abs(codes[j * k + p]!)).toBeLessThanOrEqual(127);
          expect(Math.abs(ws[j * k + p]! - scales[j]! * codes[j * k + p]!)).toBeLessThanOrEqual(scales[j]! / 2 * (1 + 1e-5) + 1e-30);
        }
      }
      expect(codes[5 * k + 7]).toBe(-127);
      const bs = values(n, 13);
      const b = Tensor.from(bs, [n]);
      for (const m of [1, 2, 3, 8]) {
        const xs = values(m * k, 14 + m);
        const x = Tensor.from(xs, [m, k]);
        const y = matmul(x, q, b);
        // One or two rows (decoding) are multiplied as 16-bit codes of each row: round(x · 32767 / max|row|).
        const xr = Float64Array.from(xs, (v, i) => {
          if (m > 2) return v;
          let max = 0;
          for (let p = 0; p < k; p++) max = Math.max(max, Math.abs(xs[Math.floor(i / k) * k + p]!));
          return Math.round((v * 32767) / max) * (max / 32767);
        });
        const want = new Float64Array(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let s = bs[j]!;
          for (let p = 0; p < k; p++) s += xr[i * k + p]! * scales[j]! * codes[j * k + p]!;
          want[i * n + j] = s;
        }
        expect(relErr(y.toArray(), want)).toBeLessThan(1e-5);
        for (const t of [x, y]) t.dispose();
      }
      const ids = new Int32Array([0, 5, 18, 5]);
      const e = embedding(q, ids, 0.5);
      const wantE = Array.from({ length: ids.length * k }, (_, i) => 0.5 * scales[ids[Math.floor(i / k)]!]! * codes[ids[Math.floor(i / k)]! * k + (i % k)]!);
      expect(maxAbsDiff(e.toArray(), wantE)).toBeLessThan(1e-6);
      expect(() => QuantizedMatrix.quantize(Tensor.from(new Float32Array([1, NaN]), [1, 2]))).toThrow(ValueRangeError);
      for (const t of [w, q, b, e]) t.dispose();
    });

    it("f16 conversion decodes known bit patterns and rounds to nearest even", () => {
      const bits = Tensor.from(new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00, 0x3555]), [6]);
      const f = f16ToF32(bits);
      expect(Array.from(f.toArray())).toEqual([1, -2, 65504, 2 ** -24, Infinity, Math.fround(0.25 * (1 + 0x155 / 1024))]);
      // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1); 1 + 3·2^-11 goes up.
      const h = f32ToF16(Tensor.from(new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520]), [3]));
      expect(Array.from(h.toArray())).toEqual([0x3c00, 0x3c02, 0x7c00]);
      for (const t of [bits, f, h]) t.dispose();
    });

    it("silu and gelu (erf form) match float64", () => {
      const xs = values(103, 4).map((v) => v * 6);
      const x = Tensor.from(xs, [103]);
      const s = silu(x), g = gelu(x);
      expect(maxAbsDiff(s.toArray(), Array.from(xs, (v) => v / (1 + Math.exp(-v))))).toBeLessThan(1e-5);
      expect(maxAbsDiff(g.toArray(), Array.from(xs, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))))).toBeLessThan(1e-5);
      for (const t of [x, s, g]) t.dispose();
    });

    it("simpleRmsNorm and layerNorm match float64", () => {
      const [rows, dim] = [5, 43];
      const xs = values(rows * dim, 5).map((v) => v * 3 + 0.5);
      const gs = values(dim, 6), bs = values(dim, 7);
      const x = Tensor.from(xs, [rows, dim]), gamma = Tensor.from(gs, [dim]), beta = Tensor.from(bs, [dim]);
      const r = simpleRmsNorm(x), l = layerNorm(x, gamma, beta);
      const wantR = new Float64Array(rows * dim), wantL = new Float64Array(rows * dim);
      for (let i = 0; i < rows; i++) {
        const row = Array.from(xs.subarray(i * dim, (i + 1) * dim));
        const rms = Math.sqrt(row.reduce((a, v) => a + v * v, 0) / dim);
        const mean = row.reduce((a, v) => a + v, 0) / dim;
        const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / dim;
        row.forEach((v, j) => {
          wantR[i * dim + j] = v / (rms + 1e-8);
          wantL[i * dim + j] = ((v - mean) / Math.sqrt(variance + 1e-5)) * gs[j]! + bs[j]!;
        });
      }
      expect(maxAbsDiff(r.toArray(), wantR)).toBeLessThan(1e-5);
      expect(maxAbsDiff(l.toArray(), wantL)).toBeLessThan(1e-5);
      for (const t of [x, gamma, beta, r, l]) t.dispose();
    });

    for (const causal of [true, false]) {
      it(`Toeplitz mixing, ${causal ? "causal" : "bidirectional"}: the direct sum and the FFT plan match the naive product`, () => {
        const c = 13;
        // One length below the crossover, one past it, so both paths of the plan run.
        for (const n of [23, Math.max(2 * toeplitzCrossover(), 64) + 5]) {
          const xs = values(n * c, 8 + n), cs = values(toeplitzCoeffRows(n, causal) * c, 9 + n).map((v) => v / Math.sqrt(n));
          const x = Tensor.from(xs, [n, c]), coeffs = Tensor.from(cs, [toeplitzCoeffRows(n, causal), c]);
          const want = naiveToeplitz(xs, cs, n, c, causal);
          const direct = toeplitzDirect(x, coeffs, causal);
          expect(maxAbsDiff(direct.toArray(), want)).toBeLessThan(1e-4);
          const plan = new ToeplitzPlan(n, c, causal);
          const spectra = plan.spectra(coeffs);
          const viaSpectra = plan.apply(x, spectra);
          const viaCoeffs = plan.applyCoeffs(x, coeffs);
          expect(maxAbsDiff(viaSpectra.toArray(), want)).toBeLessThan(1e-4);
          expect(maxAbsDiff(viaCoeffs.toArray(), want)).toBeLessThan(1e-4);
          if (n > toeplitzCrossover()) expect(plan.usesFft).toBe(true);
          for (const t of [x, coeffs, direct, spectra, viaSpectra, viaCoeffs]) t.dispose();
          plan.dispose();
        }
      });
    }

    // Lengths: tiny, around the training length 512, past the crossover, and long.
    for (const causal of [true, false]) {
      it(`Toeplitz mixing, ${causal ? "causal" : "bidirectional"}, n ∈ {1…16384}: relative error ≤ 1e-5 against float64`, () => {
        for (const n of [1, 2, 3, 7, 64, 511, 512, 513, 4096, 16384]) {
          // The float64 reference is O(n²·c): fewer channels at the long lengths keep it to a second or two.
          const channelCounts = n <= 513 ? [1, 5, 16] : n <= 4096 ? [1, 8] : [2];
          for (const c of channelCounts) {
            const rows = toeplitzCoeffRows(n, causal);
            const xs = values(n * c, 31 + n + c);
            // Decaying coefficients, like λ^|k|·RPE(k), so long sums stay well-scaled.
            const cs = values(rows * c, 37 + n + c);
            for (let r = 0; r < rows; r++) {
              const k = causal ? r : r - (n - 1);
              for (let ch = 0; ch < c; ch++) cs[r * c + ch]! *= Math.pow(0.999, Math.abs(k));
            }
            const x = Tensor.from(xs, [n, c]), coeffs = Tensor.from(cs, [rows, c]);
            const want = naiveToeplitz(xs, cs, n, c, causal);
            const plan = new ToeplitzPlan(n, c, causal);
            const spectra = plan.spectra(coeffs);
            const y = plan.apply(x, spectra);
            const yc = plan.applyCoeffs(x, coeffs);
            expect(relErr(y.toArray(), want), `n=${n} c=${c} (spectra)`).toBeLessThanOrEqual(1e-5);
            expect(relErr(yc.toArray(), want), `n=${n} c=${c} (coeffs)`).toBeLessThanOrEqual(1e-5);
            for (const t of [x, coeffs, spectra, y, yc]) t.dispose();
            plan.dispose();
          }
        }
      });
    }

    it("RPE over signed offsets matches a float64 MLP, with t_0 undecayed and λ^|k| elsewhere", () => {
      for (const [e, R, d1] of [[8, 2, 5], [32, 3, 19], [64, 6, 40]] as const) {
        const packed = values(rpePackedLength({ rpeDim: e, layers: R, channels: d1 }), e * 7 + R).map((v) => v * 0.5);
        const gammaArr = values(d1, d1).map((v) => 0.95 + 0.04 * Math.abs(v));
        const p = Tensor.from(packed), gamma = Tensor.from(gammaArr);
        for (const [kStart, count] of [[-70, 141], [0, 100], [1000, 3]] as const) {
          for (const g of [undefined, gamma]) {
            const out = rpeForward(p, { rpeDim: e, layers: R, channels: d1 }, kStart, count, g);
            const got = out.toArray();
            const want = new Float64Array(count * d1);
            for (let i = 0; i < count; i++) want.set(rpe64(packed, e, R, d1, kStart + i, g ? gammaArr : undefined), i * d1);
            expect(relErr(got, want), `e=${e} R=${R} d1=${d1} k0=${kStart} decay=${!!g}`).toBeLessThanOrEqual(1e-5);
            out.dispose();
          }
        }
        p.dispose();
        gamma.dispose();
      }
    });

    it("GEMM matches a naive triple loop for awkward sizes", () => {
      for (const [m, k, n] of [[1, 1, 1], [1, 7, 3], [5, 13, 11], [17, 64, 9], [33, 100, 67], [64, 512, 96]] as const) {
        const xs = values(m * k, m + 3 * k), ws = values(n * k, n + 5 * k), bs = values(n, n);
        const want = new Float64Array(m * n);
        // Relative to the size of the summed terms, not of the result: a single output can cancel to near zero.
        let termScale = 0;
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let acc = bs[j]!, mag = Math.abs(bs[j]!);
            for (let q = 0; q < k; q++) {
              acc += xs[i * k + q]! * ws[j * k + q]!;
              mag += Math.abs(xs[i * k + q]! * ws[j * k + q]!);
            }
            want[i * n + j] = acc;
            termScale = Math.max(termScale, mag);
          }
        }
        const x = Tensor.from(xs, [m, k]), w = Tensor.from(ws, [n, k]), b = Tensor.from(bs);
        const y = matmul(x, w, b);
        expect(maxAbsDiff(y.toArray(), want) / termScale, `${m}×${k}·${k}×${n}`).toBeLessThanOrEqual(1e-5);
        for (const t of [x, w, b, y]) t.dispose();
      }
    });

    it("rejects bad inputs with typed errors", () => {
      const x = Tensor.from(values(12, 1), [3, 4]);
      const w = Tensor.from(values(10, 2), [2, 5]);
      const ids = Tensor.from(new Int32Array([1, 2]));
      expect(() => matmul(x, w)).toThrow(ShapeError); // inner dims 4 vs 5
      expect(() => matmul(ids as never, w)).toThrow(DTypeError);
      expect(() => layerNorm(x, Tensor.from([1, 1]), Tensor.from([0, 0]))).toThrow(ShapeError);
      expect(() => toeplitzDirect(x, Tensor.from(values(8, 3), [2, 4]), true)).toThrow(ShapeError); // needs 3 rows
      expect(() => toeplitzDirect(x, Tensor.from(values(8, 3), [2, 4]), false)).toThrow(ShapeError); // needs 5 rows
      expect(() => new ToeplitzPlan(0, 4, true)).toThrow(ValueRangeError);
      expect(() => new ToeplitzPlan(8, 4, true).apply(x, Tensor.from([1]))).toThrow(ShapeError);
      expect(() => embedding(w, new Int32Array([0, 2]))).toThrow(ValueRangeError); // vocab is 2
      expect(() => embedding(w, new Int32Array([-1]))).toThrow(ValueRangeError);
      expect(() => rpeForward(Tensor.from([1, 2, 3]), { rpeDim: 2, layers: 1, channels: 1 }, 0, 4)).toThrow(ShapeError);
      expect(() => Tensor.from(new Float32Array(5), [2, 3])).toThrow(ShapeError);
      expect(() => Tensor.empty("float32", [2, -1])).toThrow(ShapeError);
      for (const t of [x, w, ids]) t.dispose();
    });
  });
}
