/**
 * `Glu`: the gated linear unit, the TNN's channel mixer.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { mul, silu } from "../core/ops.js";
import { type Tensor } from "../core/tensor.js";
import { type Linear } from "./linear.js";

type F32 = Tensor<"float32">;

/** `W_3 (SiLU(W_1 x + b_1) ⊙ (W_2 x + b_2)) + b_3`. */
export class Glu {
  /**
   * Takes ownership of the layers.
   * @throws {ShapeError} the sizes do not chain (d → g twice, g → d)
   */
  constructor(
    readonly l1: Linear,
    readonly l2: Linear,
    readonly l3: Linear,
  ) {
    const d = l1.inFeatures;
    const g = l1.outFeatures;
    if (l2.inFeatures !== d || l2.outFeatures !== g || l3.inFeatures !== g || l3.outFeatures !== d) {
      throw new ShapeError(
        `Glu: sizes do not chain: l1 [${g}, ${d}], l2 [${l2.outFeatures}, ${l2.inFeatures}], l3 [${l3.outFeatures}, ${l3.inFeatures}]`,
      );
    }
  }

  /** The GLU of `x` (`[n, d]`): `[n, d]`. */
  forward(x: F32): F32 {
    const h1 = this.l1.forward(x);
    try {
      silu(h1, h1);
      const h2 = this.l2.forward(x);
      try {
        mul(h1, h2, h1);
      } finally {
        h2.dispose();
      }
      return this.l3.forward(h1);
    } finally {
      h1.dispose();
    }
  }

  /** Frees every layer. Idempotent. */
  dispose(): void {
    this.l1.dispose();
    this.l2.dispose();
    this.l3.dispose();
  }
}
