/**
 * Float64 reference math for the TNN, written from the official model code with plain loops, sharing
 * nothing with the code under test. Matrices are row-major flat arrays; Linear weights are PyTorch `(out, in)`.
 */

export type Vec = ArrayLike<number>;

/** `y[n][out] = x[n][in] · wᵀ + b`. */
export function linear64(x: Vec, n: number, inF: number, w: Vec, b: Vec | undefined, out: number): Float64Array {
  const y = new Float64Array(n * out);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < out; o++) {
      let s = b ? b[o]! : 0;
      for (let k = 0; k < inF; k++) s += x[i * inF + k]! * w[o * inF + k]!;
      y[i * out + o] = s;
    }
  }
  return y;
}

/** `x / (‖x‖₂/√d + eps)` per row. */
export function srms64(x: Vec, n: number, d: number, eps = 1e-8): Float64Array {
  const y = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let j = 0; j < d; j++) ss += x[i * d + j]! ** 2;
    const r = Math.sqrt(ss) / Math.sqrt(d) + eps;
    for (let j = 0; j < d; j++) y[i * d + j] = x[i * d + j]! / r;
  }
  return y;
}

/** Affine LayerNorm with biased variance per row. */
export function layerNorm64(x: Vec, n: number, d: number, w: Vec, b: Vec, eps = 1e-5): Float64Array {
  const y = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (let j = 0; j < d; j++) m += x[i * d + j]!;
    m /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[i * d + j]! - m) ** 2;
    v /= d;
    const inv = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < d; j++) y[i * d + j] = (x[i * d + j]! - m) * inv * w[j]! + b[j]!;
  }
  return y;
}

export const map64 = (x: Vec, f: (v: number) => number): Float64Array => Float64Array.from(x as ArrayLike<number>, f);
export const silu = (v: number): number => v / (1 + Math.exp(-v));
export const relu = (v: number): number => Math.max(v, 0);

/** erf to ~1e-15 for |x| < 3 (Taylor series), ~1e-7 beyond (Abramowitz–Stegun 7.1.26, where erf is ±1 to 2e-5). */
export function erf(x: number): number {
  if (Math.abs(x) < 3) {
    let term = x;
    let sum = x;
    for (let k = 1; k < 200; k++) {
      term *= (-x * x) / k;
      const t = term / (2 * k + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return Math.sign(x) * (1 - p * Math.exp(-x * x));
}

export const gelu = (v: number): number => 0.5 * v * (1 + erf(v / Math.SQRT2));

export const mulv = (a: Vec, b: Vec): Float64Array => Float64Array.from({ length: a.length }, (_, i) => a[i]! * b[i]!);
export const addv = (a: Vec, b: Vec): Float64Array => Float64Array.from({ length: a.length }, (_, i) => a[i]! + b[i]!);

/** RPE MLP parameters (flat, PyTorch layout). */
export interface Rpe64 {
  posWeight: Vec; // (e, 1)
  posBias: Vec;
  layers: { weight: Vec; bias: Vec }[];
  outWeight: Vec; // (d1, e)
  outBias: Vec;
}

/** RPE(k) for each offset: `[offsets.length, d1]`. */
export function rpe64(p: Rpe64, offsets: readonly number[]): Float64Array {
  const e = p.posBias.length;
  const d1 = p.outBias.length;
  const m = offsets.length;
  let z = linear64(offsets, m, 1, p.posWeight, p.posBias, e);
  for (const l of p.layers) z = linear64(map64(srms64(z, m, e), relu), m, e, l.weight, l.bias, e);
  return linear64(map64(srms64(z, m, e), relu), m, e, p.outWeight, p.outBias, d1);
}

/** `t_k[c]` for k in (-(n-1))..(n-1): `t_0 = RPE(0)`, `t_k = λ_c^|k| RPE(k)`; zero for k < 0 when causal. */
export function toeplitzCoeffs64(p: Rpe64, gamma: Vec | undefined, n: number, causal: boolean): (k: number, c: number) => number {
  const d1 = p.outBias.length;
  const ks = Array.from({ length: 2 * n - 1 }, (_, i) => i - (n - 1));
  const t = rpe64(p, ks);
  return (k, c) => {
    if (causal && k < 0) return 0;
    const v = t[(k + n - 1) * d1 + c]!;
    return gamma && k !== 0 ? v * gamma[c]! ** Math.abs(k) : v;
  };
}

/** `y_i[c] = Σ_j t_{i-j}[c] x_j[c]` by the O(n²) definition; `x` is `[n, c]`. */
export function toeplitz64(x: Vec, n: number, c: number, t: (k: number, c: number) => number): Float64Array {
  const y = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      for (let ch = 0; ch < c; ch++) y[i * c + ch]! += t(i - j, ch) * x[j * c + ch]!;
    }
  }
  return y;
}

/** GTU / GLU / block parameters for the float64 reference. */
export interface Gtu64 {
  u: { w: Vec; b: Vec };
  v: { w: Vec; b: Vec };
  o: { w: Vec; b: Vec };
  rpe: Rpe64;
  gamma?: Vec;
  causal: boolean;
}
export interface Glu64 {
  l1: { w: Vec; b: Vec };
  l2: { w: Vec; b: Vec };
  l3: { w: Vec; b: Vec };
}

/** The official GtuV2; `outNorm` is its `use_norm` (SimpleRMSNorm on `u ⊙ y`). */
export function gtu64(p: Gtu64, x: Vec, n: number, d: number, outNorm = false): Float64Array {
  const d1 = p.u.b.length;
  const u = map64(linear64(x, n, d, p.u.w, p.u.b, d1), silu);
  const v = map64(linear64(x, n, d, p.v.w, p.v.b, d1), silu);
  const y = toeplitz64(v, n, d1, toeplitzCoeffs64(p.rpe, p.gamma, n, p.causal));
  const uy = mulv(u, y);
  return linear64(outNorm ? srms64(uy, n, d1) : uy, n, d1, p.o.w, p.o.b, d);
}

/** The official v1 Gtu: `x + GtuV2(SRMS(x))`. */
export function gtuV1_64(p: Gtu64, x: Vec, n: number, d: number): Float64Array {
  return addv(x, gtu64(p, srms64(x, n, d), n, d));
}

/** The official GtuV3: `u = in_proj(x)` (no activation), `out_proj(u ⊙ T u)`; `in` and `out` stand in `u` and `o`. */
export function gtuV3_64(p: Gtu64, x: Vec, n: number, d: number): Float64Array {
  const d1 = p.u.b.length;
  const u = linear64(x, n, d, p.u.w, p.u.b, d1);
  const y = toeplitz64(u, n, d1, toeplitzCoeffs64(p.rpe, p.gamma, n, p.causal));
  return linear64(mulv(u, y), n, d1, p.o.w, p.o.b, d);
}

/** The official GLUV2: `l2(h ⊙ SiLU(h))`, `h = l1(x)`; `l2` stands in `l3`'s place. */
export function gluV2_64(p: { l1: { w: Vec; b: Vec }; l2: { w: Vec; b: Vec } }, x: Vec, n: number, d: number): Float64Array {
  const g = p.l1.b.length;
  const h = linear64(x, n, d, p.l1.w, p.l1.b, g);
  return linear64(mulv(h, map64(h, silu)), n, g, p.l2.w, p.l2.b, d);
}

export function glu64(p: Glu64, x: Vec, n: number, d: number): Float64Array {
  const g = p.l1.b.length;
  const h1 = map64(linear64(x, n, d, p.l1.w, p.l1.b, g), silu);
  const h2 = linear64(x, n, d, p.l2.w, p.l2.b, g);
  return linear64(mulv(h1, h2), n, g, p.l3.w, p.l3.b, d);
}

export function block64(p: { gtu: Gtu64; glu: Glu64; prenorm: boolean }, x: Vec, n: number, d: number): Float64Array {
  if (p.prenorm) {
    const a = addv(x, gtu64(p.gtu, srms64(x, n, d), n, d));
    return addv(a, glu64(p.glu, srms64(a, n, d), n, d));
  }
  const a = srms64(addv(x, gtu64(p.gtu, x, n, d)), n, d);
  return srms64(addv(a, glu64(p.glu, a, n, d)), n, d);
}

/** Largest |a - b| over all elements, and the largest |b|. */
export function maxDiff(a: Vec, b: Vec): { diff: number; scale: number } {
  if (a.length !== b.length) throw new Error(`maxDiff: lengths ${a.length} and ${b.length} differ`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { diff, scale };
}
