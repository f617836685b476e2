/**
 * `AdaptiveInput`: fairseq's adaptive input embedding (Baevski & Auli, 2019). The vocabulary is cut into bands by
 * frequency; band i has a table of width `d / factor^i` and a projection back to d, so rare tokens cost fewer
 * parameters.
 * @module
 */
import { ShapeError, ValueRangeError } from "../core/errors.js";
import { Tensor } from "../core/tensor.js";
import { Embedding } from "./embedding.js";
import { Linear } from "./linear.js";
import { type VarBuilder } from "./var-builder.js";

type F32 = Tensor<"float32">;

/** The sizes of an adaptive input (and of the adaptive softmax tied to it). */
export interface AdaptiveShape {
  readonly vocabSize: number;
  /** Model width d. */
  readonly dim: number;
  /** Where each band ends but the last (which ends at the vocabulary size), increasing: fairseq's `cutoff`. */
  readonly cutoffs: readonly number[];
  /** Band i is `floor(d / factor^i)` wide. */
  readonly factor: number;
}

/** Band ends including the vocabulary size, and each band's width, as fairseq computes them. */
export function adaptiveBands(s: AdaptiveShape): { ends: number[]; widths: number[] } {
  const ends = s.vocabSize > (s.cutoffs[s.cutoffs.length - 1] ?? 0) ? [...s.cutoffs, s.vocabSize] : [...s.cutoffs];
  if (ends[ends.length - 1] !== s.vocabSize || ends.some((e, i) => !(e > (i > 0 ? ends[i - 1]! : 0)))) {
    throw new ShapeError(`adaptive cutoffs [${s.cutoffs.join(", ")}] must increase and end below the vocabulary size ${s.vocabSize}`);
  }
  return { ends, widths: ends.map((_, i) => Math.floor(s.dim / s.factor ** i)) };
}

/** `embeddings.{i}.0` (band i's table) then `embeddings.{i}.1` (its projection to d, no bias), times `scale`. */
export class AdaptiveInput {
  readonly vocabSize: number;
  readonly dim: number;
  /** Exclusive end of each band; the last is the vocabulary size. */
  readonly ends: readonly number[];

  /**
   * Takes ownership of the bands; band i covers ids `[ends[i-1], ends[i])`.
   * @throws {ShapeError} the bands do not fit together
   */
  constructor(
    readonly bands: readonly { readonly table: Embedding; readonly proj: Linear }[],
    ends: readonly number[],
  ) {
    const dim = bands[0]?.proj.outFeatures ?? 0;
    const bad = bands.findIndex((b, i) =>
      b.proj.outFeatures !== dim || b.proj.inFeatures !== b.table.dim || b.table.vocabSize !== ends[i]! - (i > 0 ? ends[i - 1]! : 0));
    if (bands.length === 0 || bands.length !== ends.length || bad >= 0) {
      throw new ShapeError(`AdaptiveInput: band ${Math.max(bad, 0)} does not fit the band ends [${ends.join(", ")}]`);
    }
    this.dim = dim;
    this.ends = Object.freeze([...ends]);
    this.vocabSize = ends[ends.length - 1]!;
  }

  /** The official `embed_tokens.embeddings.{i}.{0,1}.weight`; every band's rows are multiplied by `scale`. */
  static load(vb: VarBuilder, s: AdaptiveShape, scale = 1): AdaptiveInput {
    const { ends, widths } = adaptiveBands(s);
    const bands = ends.map((end, i) => {
      const band = vb.pp("embeddings").pp(i);
      const size = end - (i > 0 ? ends[i - 1]! : 0);
      return { table: Embedding.load(band.pp(0), size, widths[i]!, scale), proj: Linear.load(band.pp(1), widths[i]!, s.dim, { bias: false }) };
    });
    return new AdaptiveInput(bands, ends);
  }

  /**
   * Rows for valid `ids` (checked by the caller): `[ids.length, d]`.
   * @throws {ValueRangeError} an id outside the vocabulary
   */
  forward(ids: Int32Array): F32 {
    const outside = ids.findIndex((id) => id < 0 || id >= this.vocabSize);
    if (outside >= 0) throw new ValueRangeError(`AdaptiveInput: token id ${ids[outside]} is outside [0, ${this.vocabSize})`);
    const d = this.dim;
    const out = Tensor.empty("float32", [ids.length, d]);
    try {
      let start = 0;
      this.bands.forEach((band, i) => {
        const end = this.ends[i]!;
        const at: number[] = [];
        for (let j = 0; j < ids.length; j++) if (ids[j]! >= start && ids[j]! < end) at.push(j);
        if (at.length > 0) {
          using rows = band.table.forward(Int32Array.from(at, (j) => ids[j]! - start));
          using y = band.proj.forward(rows);
          const src = y.data;
          const dst = out.data;
          at.forEach((j, r) => dst.set(src.subarray(r * d, (r + 1) * d), j * d));
        }
        start = end;
      });
    } catch (e) {
      out.dispose();
      throw e;
    }
    return out;
  }

  /** Frees every band. Idempotent. */
  dispose(): void {
    for (const b of this.bands) {
      b.table.dispose();
      b.proj.dispose();
    }
  }
}
