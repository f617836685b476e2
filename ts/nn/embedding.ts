/**
 * `Embedding`: a token table looked up by id and scaled.
 * @module
 */
import { DTypeError, ShapeError, ValueRangeError } from "../core/errors.js";
import { embedding } from "../core/ops.js";
import { Tensor } from "../core/tensor.js";

/** A `[vocab, dim]` table (float32 or float16 storage) whose rows are looked up and multiplied by `scale`. */
export class Embedding {
  readonly vocabSize: number;
  readonly dim: number;
  /** The factor each looked-up row is multiplied by (the causal LM uses `sqrt(d)`). */
  readonly scale: number;
  readonly #weight: Tensor<"float32" | "float16">;

  /**
   * Takes ownership of `weight`.
   * @throws {ShapeError} the table is not 2-D
   * @throws {ValueRangeError} `scale` is not finite
   */
  constructor(weight: Tensor<"float32" | "float16">, scale = 1) {
    if (weight.dtype !== "float32" && weight.dtype !== "float16") {
      throw new DTypeError(`Embedding: weight must be float32 or float16, got ${String(weight.dtype)}`);
    }
    if (weight.dims.length !== 2) throw new ShapeError(`Embedding: weight must be [vocab, dim], got ${weight.shapeString}`);
    if (!Number.isFinite(scale)) throw new ValueRangeError(`Embedding: scale must be finite, got ${scale}`);
    [this.vocabSize, this.dim] = weight.dims as [number, number];
    this.scale = scale;
    this.#weight = weight;
  }

  /** The table `[vocab, dim]`; owned by this layer. */
  get weight(): Tensor<"float32" | "float16"> {
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
