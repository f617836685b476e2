/**
 * `LayerNorm`: affine layer normalisation (biased variance), as `torch.nn.LayerNorm`.
 * @module
 */
import { DTypeError, ShapeError } from "../core/errors.js";
import { layerNorm } from "../core/ops.js";
import { type Tensor } from "../core/tensor.js";
import { type VarBuilder } from "./var-builder.js";

type F32 = Tensor<"float32">;

/** `(x - mean) / sqrt(var + eps) · weight + bias` over the last dim. */
export class LayerNorm {
  readonly dim: number;
  readonly #weight: F32;
  readonly #bias: F32;

  /**
   * Takes ownership of `weight` and `bias` (both `[dim]`).
   * @throws {ShapeError} the two are not 1-D of the same size
   */
  constructor(weight: F32, bias: F32, readonly eps = 1e-5) {
    for (const [t, what] of [[weight, "weight"], [bias, "bias"]] as const) {
      if (t.dtype !== "float32") throw new DTypeError(`LayerNorm: ${what} must be float32, got ${t.dtype}`);
      if (t.dims.length !== 1) throw new ShapeError(`LayerNorm: ${what} must be 1-D, got ${t.shapeString}`);
    }
    if (weight.dims[0] !== bias.dims[0]) throw new ShapeError(`LayerNorm: weight ${weight.shapeString} and bias ${bias.shapeString} differ`);
    this.dim = weight.dims[0]!;
    this.#weight = weight;
    this.#bias = bias;
  }

  /** `weight` and `bias` `[dim]` from `vb`. */
  static load(vb: VarBuilder, dim: number, eps = 1e-5): LayerNorm {
    return new LayerNorm(vb.tensor("weight", [dim]), vb.tensor("bias", [dim]), eps);
  }

  get weight(): F32 {
    return this.#weight;
  }

  get bias(): F32 {
    return this.#bias;
  }

  /** Normalises each row of `x`; writes to `out` when given (`out` may be `x`). */
  forward(x: F32, out?: F32): F32 {
    return layerNorm(x, this.#weight, this.#bias, this.eps, out);
  }

  /** Frees the parameters. Idempotent. */
  dispose(): void {
    this.#weight.dispose();
    this.#bias.dispose();
  }
}
