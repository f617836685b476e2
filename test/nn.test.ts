// Each layer of ts/nn against the float64 reference of test/helpers/reference64.ts on small random inputs.
import { beforeAll, describe, expect, it } from "vitest";
import { Tensor, ValueRangeError, ShapeError, f16ToF32, f32ToF16, init, toeplitzCrossover } from "../ts/core/index.js";
import {
  Embedding, Glu, GluV2, Gtu, GtuV1, GtuV3, LayerNorm, Linear, PostNorm, PreNorm, Rpe, type SequenceMixer, SimpleRMSNorm, Tno, TnnBlock,
  type TokenMixer,
} from "../ts/nn/index.js";
import {
  type Rpe64, block64, gelu, glu64, gluV2_64, gtu64, gtuV1_64, gtuV3_64, layerNorm64, linear64, maxDiff, rpe64, srms64, toeplitz64,
  toeplitzCoeffs64,
} from "./helpers/reference64.js";
import { rng } from "./helpers/random-state-dict.js";

beforeAll(async () => {
  await init();
});

const rand = (len: number, seed: number, bound = 1): Float32Array => {
  const r = rng(seed);
  return Float32Array.from({ length: len }, () => (2 * r() - 1) * bound);
};

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel = 2e-5, what = ""): void {
  const { diff, scale } = maxDiff(got, want);
  expect(scale).toBeGreaterThan(0);
  expect(diff, `${what} max |Δ| ${diff} vs max |ref| ${scale}`).toBeLessThanOrEqual(rel * scale);
}

/** Takes the values out and disposes the tensor. */
function take(t: Tensor<"float32">): Float32Array {
  try {
    return t.toArray();
  } finally {
    t.dispose();
  }
}

interface LinParams {
  w: Float32Array;
  b: Float32Array;
}
const linParams = (out: number, inF: number, seed: number): LinParams => ({ w: rand(out * inF, seed, 1 / Math.sqrt(inF)), b: rand(out, seed + 1, 0.2) });
const linear = (p: LinParams, out: number, inF: number): Linear => new Linear(Tensor.from(p.w, [out, inF]), Tensor.from(p.b));

function rpeParams(e: number, R: number, d1: number, seed: number): Rpe64 & { layers: { weight: Float32Array; bias: Float32Array }[] } {
  return {
    posWeight: rand(e, seed, 1),
    posBias: rand(e, seed + 1, 1),
    layers: Array.from({ length: R }, (_, r) => ({ weight: rand(e * e, seed + 10 + r, 1 / Math.sqrt(e)), bias: rand(e, seed + 20 + r, 1 / Math.sqrt(e)) })),
    outWeight: rand(d1 * e, seed + 2, 0.3 / Math.sqrt(e)),
    outBias: rand(d1, seed + 3, 0.3 / Math.sqrt(e)),
  };
}
const toF32 = (p: ReturnType<typeof rpeParams>) => ({
  posWeight: Float32Array.from(p.posWeight as ArrayLike<number>),
  posBias: Float32Array.from(p.posBias as ArrayLike<number>),
  layers: p.layers,
  outWeight: Float32Array.from(p.outWeight as ArrayLike<number>),
  outBias: Float32Array.from(p.outBias as ArrayLike<number>),
});
/** A Tno over an RPE of `p`, with decays `gamma` (copied into wasm) when given. */
const tnoOf = (rpe: Rpe, options: { causal: boolean; gamma?: Float32Array; heads?: number; cacheBytes?: number }): Tno =>
  new Tno(rpe, options.gamma ? Tensor.from(options.gamma) : undefined, options);

const gammaOf = (d1: number, seed: number): Float32Array => {
  const r = rng(seed);
  return Float32Array.from({ length: d1 }, () => 0.9 + 0.09 * r());
};

describe("Linear", () => {
  it("float32 weights: x·Wᵀ + b", () => {
    const p = linParams(7, 12, 1);
    const x = rand(5 * 12, 3);
    const lin = linear(p, 7, 12);
    const xt = Tensor.from(x, [5, 12]);
    expectClose(take(lin.forward(xt)), linear64(x, 5, 12, p.w, p.b, 7));
    xt.dispose();
    lin.dispose();
  });

  it("float16 weights: the product of the stored half values, in float32", () => {
    const p = linParams(9, 16, 5);
    const w16 = f32ToF16(Tensor.from(p.w, [9, 16]));
    const wStored = take(f16ToF32(w16));
    const lin = new Linear(w16, Tensor.from(p.b));
    const x = rand(4 * 16, 6);
    const xt = Tensor.from(x, [4, 16]);
    expectClose(take(lin.forward(xt)), linear64(x, 4, 16, wStored, p.b, 9));
    // Half precision really was used: the stored weights differ from the float32 ones.
    expect(maxDiff(wStored, p.w).diff).toBeGreaterThan(0);
    xt.dispose();
    lin.dispose();
  });

  it("rejects a bias of the wrong size", () => {
    expect(() => new Linear(Tensor.zeros("float32", [3, 4]), Tensor.zeros("float32", [4]))).toThrow(ShapeError);
  });
});

describe("Embedding", () => {
  it("looks up rows and scales them", () => {
    const table = rand(10 * 6, 7);
    const emb = new Embedding(Tensor.from(table, [10, 6]), 2.5);
    const ids = new Int32Array([3, 0, 9, 3]);
    const want = Float64Array.from({ length: 4 * 6 }, (_, i) => table[ids[Math.floor(i / 6)]! * 6 + (i % 6)]! * 2.5);
    expectClose(take(emb.forward(ids)), want, 1e-7);
    expect(() => emb.forward(new Int32Array([10]))).toThrow(ValueRangeError);
    expect(() => emb.forward(new Int32Array([-1]))).toThrow(ValueRangeError);
    emb.dispose();
  });
});

describe("norms", () => {
  it("SimpleRMSNorm: x / (‖x‖/√d + 1e-8)", () => {
    const x = rand(6 * 10, 8, 3);
    const xt = Tensor.from(x, [6, 10]);
    expectClose(take(new SimpleRMSNorm().forward(xt)), srms64(x, 6, 10), 1e-6);
    xt.dispose();
  });

  it("LayerNorm: affine, biased variance, eps 1e-5", () => {
    const x = rand(5 * 12, 9, 2);
    const w = rand(12, 10);
    const b = rand(12, 11);
    const ln = new LayerNorm(Tensor.from(w), Tensor.from(b));
    const xt = Tensor.from(x, [5, 12]);
    expectClose(take(ln.forward(xt)), layerNorm64(x, 5, 12, w, b), 1e-5);
    xt.dispose();
    ln.dispose();
  });
});

describe("Rpe", () => {
  it("evaluates the MLP at signed offsets, with and without decay (t_0 never decayed)", () => {
    const e = 8;
    const d1 = 12;
    const p = rpeParams(e, 3, d1, 20);
    const rpe = Rpe.fromParams(toF32(p));
    const ks = Array.from({ length: 41 }, (_, i) => i - 20);
    expectClose(take(rpe.forward(-20, 41)), rpe64(p, ks), 2e-5);
    const g = gammaOf(d1, 21);
    const gt = Tensor.from(g);
    const raw = rpe64(p, ks);
    const decayed = raw.map((v, i) => {
      const k = ks[Math.floor(i / d1)]!;
      return k === 0 ? v : v * g[i % d1]! ** Math.abs(k);
    });
    expectClose(take(rpe.forward(-20, 41, gt)), decayed, 2e-5);
    gt.dispose();
    rpe.dispose();
  });

  it("rejects parameters that do not fit one MLP", () => {
    const p = toF32(rpeParams(4, 1, 6, 1));
    expect(() => Rpe.fromParams({ ...p, outWeight: new Float32Array(5) })).toThrow(ShapeError);
  });
});

describe("Tno", () => {
  const e = 8;
  const d1 = 12;
  const crossover = (): number => toeplitzCrossover();
  // Lengths on both sides of the direct/FFT crossover, and one that is not a power of two.
  const lengths = (): number[] => [1, 7, Math.max(2, crossover()), crossover() + 1, Math.max(300, crossover() + 37)];

  for (const causal of [true, false]) {
    for (const decay of [true, false]) {
      it(`${causal ? "causal" : "bidirectional"}, ${decay ? "decay" : "no decay"}: matches the O(n²) definition on both paths`, () => {
        const p = rpeParams(e, 2, d1, 30);
        const gamma = decay ? gammaOf(d1, 31) : undefined;
        const tno = tnoOf(Rpe.fromParams(toF32(p)), { causal, gamma, heads: 2 });
        for (const n of lengths()) {
          const x = rand(n * d1, 40 + n);
          const xt = Tensor.from(x, [n, d1]);
          const want = toeplitz64(x, n, d1, toeplitzCoeffs64(p, gamma, n, causal));
          const first = take(tno.forward(xt));
          expectClose(first, want, 5e-5);
          // The second call uses the cached coefficients or spectra.
          expect(take(tno.forward(xt))).toEqual(first);
          xt.dispose();
        }
        tno.dispose();
      });
    }
  }

  it("without a cache budget computes spectra on the fly and agrees", () => {
    const p = rpeParams(e, 2, d1, 50);
    const gamma = gammaOf(d1, 51);
    const n = Math.max(300, crossover() + 5);
    const tno = tnoOf(Rpe.fromParams(toF32(p)), { causal: true, gamma, cacheBytes: 0 });
    const x = rand(n * d1, 52);
    const xt = Tensor.from(x, [n, d1]);
    expectClose(take(tno.forward(xt)), toeplitz64(x, n, d1, toeplitzCoeffs64(p, gamma, n, true)), 5e-5);
    expect(tno.cachedBytes).toBe(0);
    xt.dispose();
    tno.dispose();
  });

  it("keeps its cache within the byte budget, dropping the least recently used length", () => {
    const p = rpeParams(e, 1, d1, 60);
    const budget = 3 * 64 * d1 * 4; // room for a few short tables
    const tno = tnoOf(Rpe.fromParams(toF32(p)), { causal: true, cacheBytes: budget });
    for (const n of [10, 20, 30, 40, 50, 60, 10]) {
      const xt = Tensor.from(rand(n * d1, n), [n, d1]);
      // Twice: a length is kept from its second product on.
      tno.forward(xt).dispose();
      tno.forward(xt).dispose();
      xt.dispose();
      expect(tno.cachedBytes).toBeLessThanOrEqual(budget);
    }
    expect(tno.cachedBytes).toBeGreaterThan(0);
    tno.dispose();
  });

  it("caches a length's spectra from its second product on, with the same bits as on the fly", () => {
    const p = rpeParams(e, 2, d1, 80);
    const gamma = gammaOf(d1, 81);
    const tno = tnoOf(Rpe.fromParams(toF32(p)), { causal: true, gamma });
    for (const n of [crossover() + 7, 3]) {
      const x = rand(n * d1, 82 + n);
      const xt = Tensor.from(x, [n, d1]);
      const before = tno.cachedBytes;
      const once = take(tno.forward(xt));
      expect(tno.cachedBytes).toBe(before); // a first product keeps nothing
      expectClose(once, toeplitz64(x, n, d1, toeplitzCoeffs64(p, gamma, n, true)), 5e-5);
      const twice = take(tno.forward(xt));
      expect(tno.cachedBytes).toBeGreaterThan(before);
      const thrice = take(tno.forward(xt));
      expect(twice).toEqual(once);
      expect(thrice).toEqual(once);
      xt.dispose();
    }
    tno.clearCache();
    expect(tno.cachedBytes).toBe(0);
    tno.dispose();
  });

  it("coefficients(): causal offsets 0..count-1, decayed or raw; gamma is exposed", () => {
    const p = rpeParams(e, 2, d1, 70);
    const gamma = gammaOf(d1, 71);
    const tno = tnoOf(Rpe.fromParams(toF32(p)), { causal: true, gamma });
    const raw = rpe64(p, Array.from({ length: 9 }, (_, k) => k));
    expectClose(take(tno.coefficients(9, { decay: false })), raw, 2e-5);
    const decayed = raw.map((v, i) => v * gamma[i % d1]! ** Math.floor(i / d1));
    expectClose(take(tno.coefficients(9)), decayed, 2e-5);
    expect(tno.gamma).toEqual(gamma);
    tno.dispose();
    const plain = tnoOf(Rpe.fromParams(toF32(p)), { causal: true });
    expect(plain.gamma).toBeUndefined();
    plain.dispose();
  });

  it("rejects a gamma of the wrong length and heads that do not divide d1", () => {
    const p = toF32(rpeParams(e, 1, d1, 80));
    expect(() => tnoOf(Rpe.fromParams(p), { causal: true, gamma: new Float32Array(5) })).toThrow(ShapeError);
    expect(() => tnoOf(Rpe.fromParams(p), { causal: true, heads: 5 })).toThrow(ShapeError);
  });
});

function gtuFixture(d: number, d1: number, causal: boolean, seed: number) {
  const u = linParams(d1, d, seed);
  const v = linParams(d1, d, seed + 2);
  const o = linParams(d, d1, seed + 4);
  const rpe = rpeParams(6, 2, d1, seed + 6);
  const gamma = gammaOf(d1, seed + 8);
  const ref = { u: { w: u.w, b: u.b }, v: { w: v.w, b: v.b }, o: { w: o.w, b: o.b }, rpe, gamma, causal };
  const tno = (): Tno => tnoOf(Rpe.fromParams(toF32(rpe)), { causal, gamma });
  const make = (outNorm = false): Gtu => new Gtu(linear(u, d1, d), linear(v, d1, d), linear(o, d, d1), tno(), outNorm ? new SimpleRMSNorm() : undefined);
  // GtuV3 reads u and o as its in_proj and out_proj.
  const makeV3 = (): GtuV3 => new GtuV3(linear(u, d1, d), linear(o, d, d1), tno());
  return { ref, make, makeV3 };
}

function gluFixture(d: number, g: number, seed: number) {
  const l1 = linParams(g, d, seed);
  const l2 = linParams(g, d, seed + 2);
  const l3 = linParams(d, g, seed + 4);
  const ref = { l1: { w: l1.w, b: l1.b }, l2: { w: l2.w, b: l2.b }, l3: { w: l3.w, b: l3.b } };
  return { ref, make: (): Glu => new Glu(linear(l1, g, d), linear(l2, g, d), linear(l3, d, g)) };
}

describe("Gtu, Glu, TnnBlock", () => {
  const d = 8;
  const d1 = 24;
  const n = 50;

  for (const causal of [true, false]) {
    it(`Gtu (${causal ? "causal" : "bidirectional"}): W_o(SiLU(W_u x) ⊙ TNO(SiLU(W_v x))), with and without use_norm; v1 and v3`, () => {
      const { ref, make, makeV3 } = gtuFixture(d, d1, causal, 100);
      const x = rand(n * d, 110);
      using xt = Tensor.from(x, [n, d]);
      const cases: [string, TokenMixer, Float64Array][] = [
        ["v2", make(), gtu64(ref, x, n, d)],
        ["v2 use_norm", make(true), gtu64(ref, x, n, d, true)],
        ["v1", new GtuV1(make()), gtuV1_64(ref, x, n, d)],
        ["v3", makeV3(), gtuV3_64(ref, x, n, d)],
      ];
      for (const [what, gtu, want] of cases) {
        expectClose(take(gtu.forward(xt, gtu.tno)), want, 5e-5, what);
        // Any sequence mixer stands in for the layer's own Toeplitz kernel: here one that works on a copy.
        const copying: SequenceMixer = { mix: (v) => {
          using c = Tensor.from(v.toArray(), v.dims);
          return gtu.tno.forward(c);
        } };
        expectClose(take(gtu.forward(xt, copying)), want, 5e-5, what);
        gtu.dispose();
      }
    });
  }

  it("Glu: W_3(SiLU(W_1 x) ⊙ W_2 x); GluV2: W_2(h ⊙ SiLU(h)), h = W_1 x", () => {
    const { ref, make } = gluFixture(d, 16, 120);
    const glu = make();
    const x = rand(n * d, 121);
    using xt = Tensor.from(x, [n, d]);
    expectClose(take(glu.forward(xt)), glu64(ref, x, n, d), 2e-5);
    glu.dispose();
    const v2 = new GluV2(linear({ w: ref.l1.w, b: ref.l1.b }, 16, d), linear({ w: ref.l3.w, b: ref.l3.b }, d, 16));
    expectClose(take(v2.forward(xt)), gluV2_64({ l1: ref.l1, l2: ref.l3 }, x, n, d), 2e-5);
    v2.dispose();
  });

  for (const prenorm of [true, false]) {
    it(`TnnBlock ${prenorm ? "pre-norm" : "post-norm"}`, () => {
      const g = gtuFixture(d, d1, prenorm, 130);
      const l = gluFixture(d, 16, 140);
      const norm = new SimpleRMSNorm();
      const block = new TnnBlock(g.make(), l.make(), prenorm ? new PreNorm(norm) : new PostNorm(norm));
      const x = rand(n * d, 150, 2);
      const xt = Tensor.from(x, [n, d]);
      const before = xt.toArray();
      expectClose(take(block.forward(xt)), block64({ gtu: g.ref, glu: l.ref, prenorm }, x, n, d), 5e-5);
      expect(xt.toArray()).toEqual(before); // the input is left as it was
      xt.dispose();
      block.dispose();
    });
  }

  it("GELU reference sanity: erf-based GELU matches known values", () => {
    expect(gelu(1)).toBeCloseTo(0.8413447460685429, 12);
    expect(gelu(-0.5)).toBeCloseTo(-0.15426876936299344, 12);
  });
});
