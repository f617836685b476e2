/**
 * `Embedding`: a token table looked up by id and scaled.
 * @module
 */
import { ShapeError, ValueRangeError } from "../core/errors.js";
import { checkMatrix, embedding } from "../core/ops.js";
import { type Matrix } from "../core/quantized-matrix.js";
import { type Tensor } from "../core/tensor.js";
import { type VarBuilder } from "./var-builder.js";

/** A `[vocab, dim]` table (float32, float16 or int8 storage) whose rows are looked up and multiplied by `scale`. */
export class Embedding {
  readonly vocabSize: number;
  readonly dim: number;
  /** The factor each looked-up row is multiplied by (the causal LM uses `sqrt(d)`). */
  readonly scale: number;
  readonly #weight: Matrix;

  /**
   * Takes ownership of `weight`.
   * @throws {ShapeError} the table is not 2-D
   * @throws {ValueRangeError} `scale` is not finite
   */
  constructor(weight: Matrix, scale = 1) {
    checkMatrix(weight, "Embedding");
    if (weight.dims.length !== 2) throw new ShapeError(`Embedding: weight must be [vocab, dim], got ${weight.shapeString}`);
    if (!Number.isFinite(scale)) throw new ValueRangeError(`Embedding: scale must be finite, got ${scale}`);
    [this.vocabSize, this.dim] = weight.dims as [number, number];
    this.scale = scale;
    this.#weight = weight;
  }

  /** `weight` `[vocab, dim]` from `vb`. */
  static load(vb: VarBuilder, vocabSize: number, dim: number, scale = 1): Embedding {
    return new Embedding(vb.matrix("weight", [vocabSize, dim]), scale);
  }

  /** The table `[vocab, dim]`; owned by this layer. */
  get weight(): Matrix {
    return this.#weight;
  }

  /**
   * Rows of the table for `ids`, times `scale`: `[ids.length, dim]`.
   * @throws {ValueRangeError} an id is outside `[0, vocab)`
   */
  forward(ids: Int32Array): Tensor<"float32"> {
    return embedding(this.#weight, ids, this.scale);
  }

  /** Frees the table. Idempotent. */
  dispose(): void {
    this.#weight.dispose();
  }
}
