/**
 * `Linear`: `y = x · Wᵀ + b` with PyTorch's `(out, in)` weight layout.
 * @module
 */
import { DTypeError, ShapeError } from "../core/errors.js";
import { checkMatrix, matmul } from "../core/ops.js";
import { type Matrix } from "../core/quantized-matrix.js";
import { type Tensor } from "../core/tensor.js";
import { type VarBuilder } from "./var-builder.js";

type F32 = Tensor<"float32">;

/**
 * A fully connected layer. The weight may be float16 or int8 (storage only; the product is computed in float32).
 */
export class Linear {
  /** Input features (the weight's second dim). */
  readonly inFeatures: number;
  /** Output features (the weight's first dim). */
  readonly outFeatures: number;
  readonly #weight: Matrix;
  readonly #bias: F32 | undefined;

  /**
   * Takes ownership of `weight` (`[out, in]`: float32, float16, or a QuantizedMatrix) and `bias` (`[out]`, float32):
   * `dispose()` frees them.
   * @throws {ShapeError} the dims do not fit together
   * @throws {DTypeError} a tensor has another dtype
   */
  constructor(weight: Matrix, bias?: F32) {
    checkMatrix(weight, "Linear");
    if (weight.dims.length !== 2) throw new ShapeError(`Linear: weight must be [out, in], got ${weight.shapeString}`);
    const [out, inF] = weight.dims as [number, number];
    if (bias) {
      if (bias.dtype !== "float32") throw new DTypeError(`Linear: bias must be float32, got ${bias.dtype}`);
      if (bias.dims.length !== 1 || bias.dims[0] !== out) throw new ShapeError(`Linear: bias has dims ${bias.shapeString}, expected [${out}]`);
    }
    this.inFeatures = inF;
    this.outFeatures = out;
    this.#weight = weight;
    this.#bias = bias;
  }

  /** `weight` `[out, in]` and (unless `bias: false`) `bias` `[out]` from `vb`. */
  static load(vb: VarBuilder, inFeatures: number, outFeatures: number, options: { readonly bias?: boolean } = {}): Linear {
    return new Linear(vb.matrix("weight", [outFeatures, inFeatures]), options.bias === false ? undefined : vb.tensor("bias", [outFeatures]));
  }

  /** The weight `[out, in]`; owned by this layer. */
  get weight(): Matrix {
    return this.#weight;
  }

  /** The bias `[out]`, or undefined for none; owned by this layer. */
  get bias(): F32 | undefined {
    return this.#bias;
  }

  /** `x · Wᵀ + b` over the last dim: `[..., in]` → `[..., out]`, written to `out` when given. */
  forward(x: F32, out?: F32): F32 {
    return matmul(x, this.#weight, this.#bias, out);
  }

  /** Frees the weight and bias. Idempotent. */
  dispose(): void {
    this.#weight.dispose();
    this.#bias?.dispose();
  }
}
