/**
 * `AdaptiveSoftmax`: fairseq's adaptive softmax (Grave et al., 2017) as its `get_log_prob` computes it for the whole
 * vocabulary. The head scores band 0's words and one class per other band; band i's words are scored by a tail
 * (a projection to `d / factor^(i+1)`, then the band's output matrix), normalised within the band and offset by the
 * class's log-probability.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { transposeMatrix } from "../core/ops.js";
import { type Matrix } from "../core/quantized-matrix.js";
import { Tensor } from "../core/tensor.js";
import { type AdaptiveInput, type AdaptiveShape, adaptiveBands } from "./adaptive-input.js";
import { Linear } from "./linear.js";
import { type VarBuilder } from "./var-builder.js";

type F32 = Tensor<"float32">;

/** One tail: `out(proj(h))`; `proj` is stored `[d, w]` and read transposed when tied to an adaptive input's projection. */
interface Tail {
  readonly proj: Linear | { readonly transposedOf: Matrix };
  readonly out: Linear;
}

/** How the softmax shares weights with the adaptive input (fairseq's `tie_adaptive_weights`, `tie_adaptive_proj`). */
export interface AdaptiveTies {
  /** The adaptive input whose tables the head and tails use as output matrices. */
  readonly input?: AdaptiveInput;
  /** Also use the input's projections (transposed) as the tails' projections. */
  readonly tieProj?: boolean;
}

/** Log-probabilities `[m, V]` of hidden states `[m, d]` over the full vocabulary. */
export class AdaptiveSoftmax {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Exclusive end of each band; the last is the vocabulary size. */
  readonly ends: readonly number[];
  /** Projections over transposed copies of tied weights, made on first use (small: d × d/factor). */
  readonly #transposed = new Map<Tail, Linear>();

  /**
   * Takes ownership of the parts. The head scores `ends[0]` words then one class per tail: `head` alone, or, when the
   * words are a tied table, `head` for the words and `classes` for the classes.
   * @throws {ShapeError} the parts do not fit together
   */
  constructor(
    readonly head: Linear,
    readonly classes: Linear | undefined,
    readonly tails: readonly Tail[],
    ends: readonly number[],
  ) {
    this.inFeatures = head.inFeatures;
    this.ends = Object.freeze([...ends]);
    this.outFeatures = ends[ends.length - 1]!;
    const okTail = (t: Tail, i: number): boolean => {
      const w = "transposedOf" in t.proj ? t.proj.transposedOf.dims[1]! : t.proj.outFeatures;
      const inF = "transposedOf" in t.proj ? t.proj.transposedOf.dims[0]! : t.proj.inFeatures;
      return inF === this.inFeatures && t.out.inFeatures === w && t.out.outFeatures === ends[i + 1]! - ends[i]!;
    };
    const headOuts = head.outFeatures + (classes?.outFeatures ?? 0);
    if (headOuts !== ends[0]! + tails.length || (classes && classes.inFeatures !== this.inFeatures) || tails.length !== ends.length - 1 || !tails.every(okTail)) {
      throw new ShapeError(`AdaptiveSoftmax: the head (${headOuts} outputs) and ${tails.length} tails do not fit the bands [${ends.join(", ")}]`);
    }
  }

  /**
   * The official `adaptive_softmax.*`: untied, `head.weight` and `tail.{i}.{0,2}.weight`; tied to `ties.input`,
   * `head.word_proj.weight` and `tail.{i}.2.weight` are the input's tables (files store copies) and
   * `head.class_proj.weight` the classes, with `tail.{i}.0.weight` the input's projection when `tieProj`.
   */
  static load(vb: VarBuilder, s: AdaptiveShape, ties: AdaptiveTies = {}): AdaptiveSoftmax {
    const { ends } = adaptiveBands(s);
    const d = s.dim;
    const input = ties.input;
    // Tied, the head's word rows are band 0's table and its class rows a matrix of their own.
    const head = input
      ? new Linear(vb.pp("head").tiedMatrix("word_proj.weight", input.bands[0]!.table.weight))
      : Linear.load(vb.pp("head"), d, ends[0]! + ends.length - 1, { bias: false });
    const classes = input ? Linear.load(vb.pp("head").pp("class_proj"), d, ends.length - 1, { bias: false }) : undefined;
    const tails = ends.slice(1).map((end, i): Tail => {
      const t = vb.pp("tail").pp(i);
      const w = Math.floor(d / s.factor ** (i + 1));
      const band = input?.bands[i + 1];
      // fairseq's untied projection of a tied softmax is a Linear(d, w) (its weight [w, d]), like the untied one.
      const proj = band && ties.tieProj ? { transposedOf: t.tiedMatrix("0.weight", band.proj.weight) } : Linear.load(t.pp(0), d, w, { bias: false });
      const out = band ? new Linear(t.tiedMatrix("2.weight", band.table.weight)) : Linear.load(t.pp(2), w, end - ends[i]!, { bias: false });
      return { proj, out };
    });
    return new AdaptiveSoftmax(head, classes, tails, ends);
  }

  /** Log-probabilities of hidden states `h` (`[m, d]`): `[m, V]`, written to `out` when given. */
  forward(h: F32, out?: F32): F32 {
    const m = h.dims[0]!;
    const V = this.outFeatures;
    const c0 = this.ends[0]!;
    const y = out ?? Tensor.empty("float32", [m, V]);
    try {
      const width = c0 + this.tails.length;
      const headOut = new Float32Array(m * width);
      {
        using words = this.head.forward(h);
        using classes = this.classes?.forward(h);
        const w = words.data;
        const ww = words.dims[1]!;
        for (let r = 0; r < m; r++) {
          headOut.set(w.subarray(r * ww, (r + 1) * ww), r * width);
          if (classes) headOut.set(classes.data.subarray(r * this.tails.length, (r + 1) * this.tails.length), r * width + ww);
        }
      }
      // Band 0 and the class priors: one log-softmax over the head's outputs.
      const headLsm = logSoftmaxRows(headOut, m, width);
      const tailOuts = this.tails.map((t) => {
        using p = this.#project(t, h);
        return t.out.forward(p);
      });
      try {
        const dst = y.data;
        for (let r = 0; r < m; r++) dst.set(headLsm.subarray(r * width, r * width + c0), r * V);
        tailOuts.forEach((t, i) => {
          const start = this.ends[i]!;
          const size = this.ends[i + 1]! - start;
          const lsm = logSoftmaxRows(t.data, m, size);
          for (let r = 0; r < m; r++) {
            const prior = headLsm[r * width + c0 + i]!;
            for (let j = 0; j < size; j++) dst[r * V + start + j] = lsm[r * size + j]! + prior;
          }
        });
      } finally {
        for (const t of tailOuts) t.dispose();
      }
    } catch (e) {
      if (!out) y.dispose();
      throw e;
    }
    return y;
  }

  #project(t: Tail, h: F32): F32 {
    if (t.proj instanceof Linear) return t.proj.forward(h);
    let proj = this.#transposed.get(t);
    if (!proj) {
      proj = new Linear(transposeMatrix(t.proj.transposedOf));
      this.#transposed.set(t, proj);
    }
    return proj.forward(h);
  }

  /** Frees the head, the tails and the transposed copies. Idempotent. */
  dispose(): void {
    this.head.dispose();
    this.classes?.dispose();
    for (const t of this.tails) {
      if (t.proj instanceof Linear) t.proj.dispose();
      else t.proj.transposedOf.dispose();
      t.out.dispose();
    }
    for (const w of this.#transposed.values()) w.dispose();
    this.#transposed.clear();
  }
}

/** Row-wise log-softmax of `[m, n]` values, in float64 accumulation. */
function logSoftmaxRows(x: Float32Array, m: number, n: number): Float32Array {
  const out = new Float32Array(m * n);
  for (let r = 0; r < m; r++) {
    let max = -Infinity;
    for (let j = 0; j < n; j++) max = Math.max(max, x[r * n + j]!);
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(x[r * n + j]! - max);
    const lse = max + Math.log(sum);
    for (let j = 0; j < n; j++) out[r * n + j] = x[r * n + j]! - lse;
  }
  return out;
}
