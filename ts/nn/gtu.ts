/**
 * `Gtu`: the gated Toeplitz unit, the TNN's token mixer.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { mul, silu } from "../core/ops.js";
import { type Tensor } from "../core/tensor.js";
import { type Linear } from "./linear.js";
import { type Tno } from "./tno.js";

type F32 = Tensor<"float32">;

/** `u = SiLU(W_u x + b_u)`, `v = SiLU(W_v x + b_v)`, `out = W_o (u ⊙ TNO(v)) + b_o`. No norm, no inner residual. */
export class Gtu {
  /**
   * Takes ownership of the layers.
   * @throws {ShapeError} the layers' sizes do not chain (d → d1 twice, TNO on d1, d1 → d)
   */
  constructor(
    readonly uProj: Linear,
    readonly vProj: Linear,
    readonly o: Linear,
    readonly tno: Tno,
  ) {
    const d = uProj.inFeatures;
    const d1 = uProj.outFeatures;
    if (vProj.inFeatures !== d || vProj.outFeatures !== d1 || tno.channels !== d1 || o.inFeatures !== d1 || o.outFeatures !== d) {
      throw new ShapeError(
        `Gtu: sizes do not chain: u_proj [${d1}, ${d}], v_proj [${vProj.outFeatures}, ${vProj.inFeatures}], ` +
          `tno ${tno.channels} channels, o [${o.outFeatures}, ${o.inFeatures}]`,
      );
    }
  }

  /** Model width d. */
  get dim(): number {
    return this.uProj.inFeatures;
  }

  /** Mixer width d1. */
  get channels(): number {
    return this.uProj.outFeatures;
  }

  /** The two gates for `x` (`[n, d]`), both after SiLU: `u` and `v`, each `[n, d1]`. The caller owns both. */
  gates(x: F32): { u: F32; v: F32 } {
    const u = this.uProj.forward(x);
    let v: F32 | undefined;
    try {
      silu(u, u);
      v = this.vProj.forward(x);
      silu(v, v);
    } catch (e) {
      u.dispose();
      v?.dispose();
      throw e;
    }
    return { u, v };
  }

  /** `W_o (u ⊙ y) + b_o` for `u`, `y` of `[n, d1]`: `[n, d]`. Leaves `u` and `y` as they are. */
  project(u: F32, y: F32): F32 {
    const uy = mul(u, y);
    try {
      return this.o.forward(uy);
    } finally {
      uy.dispose();
    }
  }

  /** The GTU of `x` (`[n, d]`): `[n, d]`. */
  forward(x: F32): F32 {
    const { u, v } = this.gates(x);
    try {
      const y = this.tno.forward(v);
      v.dispose();
      try {
        mul(u, y, u);
      } finally {
        y.dispose();
      }
      return this.o.forward(u);
    } finally {
      u.dispose();
      v.dispose();
    }
  }

  /** Frees every layer. Idempotent. */
  dispose(): void {
    this.uProj.dispose();
    this.vProj.dispose();
    this.o.dispose();
    this.tno.dispose();
  }
}
