/**
 * `SimpleRMSNorm`: the TNN's parameter-free in-layer norm.
 * @module
 */
import { simpleRmsNorm } from "../core/ops.js";
import { type Tensor } from "../core/tensor.js";

/** `x / (‖x‖₂/√dim + eps)` over the last dim; eps is added to the RMS, not inside the root. No parameters. */
export class SimpleRMSNorm {
  constructor(
    /** The official code uses 1e-8. */
    readonly eps = 1e-8,
  ) {}

  /** Normalises each row of `x`; writes to `out` when given (`out` may be `x`). */
  forward(x: Tensor<"float32">, out?: Tensor<"float32">): Tensor<"float32"> {
    return simpleRmsNorm(x, this.eps, out);
  }

  /** Nothing to free; present so every layer can be disposed alike. */
  dispose(): void {}
}
