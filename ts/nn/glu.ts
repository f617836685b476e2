/**
 * The TNN's channel mixers: the gated linear unit, in the official code's two versions.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { mul, silu } from "../core/ops.js";
import { type Tensor } from "../core/tensor.js";
import { Linear } from "./linear.js";
import { type VarBuilder } from "./var-builder.js";

type F32 = Tensor<"float32">;

/** A channel mixer: `[n, d]` → `[n, d]`, each position on its own. */
export interface ChannelMixer {
  /** Model width d. */
  readonly dim: number;
  forward(x: F32): F32;
  dispose(): void;
}

/** `W_3 (SiLU(W_1 x + b_1) ⊙ (W_2 x + b_2)) + b_3` (the official `GLU`). */
export class Glu implements ChannelMixer {
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

  /** The official `GLU` parameters `l1`, `l2` (d → g) and `l3` (g → d). */
  static load(vb: VarBuilder, dim: number, hidden: number): Glu {
    return new Glu(Linear.load(vb.pp("l1"), dim, hidden), Linear.load(vb.pp("l2"), dim, hidden), Linear.load(vb.pp("l3"), hidden, dim));
  }

  get dim(): number {
    return this.l1.inFeatures;
  }

  forward(x: F32): F32 {
    using h = this.l1.forward(x);
    silu(h, h);
    using g = this.l2.forward(x);
    mul(h, g, h);
    return this.l3.forward(h);
  }

  dispose(): void {
    this.l1.dispose();
    this.l2.dispose();
    this.l3.dispose();
  }
}

/** `W_2 (h ⊙ SiLU(h)) + b_2` with `h = W_1 x + b_1` (the official `GLUV2`: one hidden projection, gated by itself). */
export class GluV2 implements ChannelMixer {
  /** @throws {ShapeError} the sizes do not chain (d → g, g → d) */
  constructor(
    readonly l1: Linear,
    readonly l2: Linear,
  ) {
    if (l2.inFeatures !== l1.outFeatures || l2.outFeatures !== l1.inFeatures) {
      throw new ShapeError(`GluV2: sizes do not chain: l1 [${l1.outFeatures}, ${l1.inFeatures}], l2 [${l2.outFeatures}, ${l2.inFeatures}]`);
    }
  }

  /** The official `GLUV2` parameters `l1` (d → g) and `l2` (g → d). */
  static load(vb: VarBuilder, dim: number, hidden: number): GluV2 {
    return new GluV2(Linear.load(vb.pp("l1"), dim, hidden), Linear.load(vb.pp("l2"), hidden, dim));
  }

  get dim(): number {
    return this.l1.inFeatures;
  }

  forward(x: F32): F32 {
    using h = this.l1.forward(x);
    using g = silu(h);
    mul(h, g, h);
    return this.l2.forward(h);
  }

  dispose(): void {
    this.l1.dispose();
    this.l2.dispose();
  }
}
