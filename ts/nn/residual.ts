/**
 * Where a block puts its norm around a residual sublayer: before the sublayer (pre-norm) or after the sum
 * (post-norm). The block is written once; the placement is the part it is given.
 * @module
 */
import { add } from "../core/ops.js";
import { type Tensor } from "../core/tensor.js";
import { type SimpleRMSNorm } from "./simple-rms-norm.js";

type F32 = Tensor<"float32">;

/** A residual connection with a norm: `apply(x, f)` returns a new tensor and leaves `x` as it is. */
export interface Residual {
  readonly norm: SimpleRMSNorm;
  apply(x: F32, f: (h: F32) => F32): F32;
}

/** `x + f(norm(x))`. */
export class PreNorm implements Residual {
  constructor(readonly norm: SimpleRMSNorm) {}

  apply(x: F32, f: (h: F32) => F32): F32 {
    using h = this.norm.forward(x);
    const y = f(h);
    return add(x, y, y);
  }
}

/** `norm(x + f(x))`. */
export class PostNorm implements Residual {
  constructor(readonly norm: SimpleRMSNorm) {}

  apply(x: F32, f: (h: F32) => F32): F32 {
    const y = f(x);
    add(x, y, y);
    return this.norm.forward(y, y);
  }
}
