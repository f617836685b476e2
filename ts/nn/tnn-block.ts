/**
 * `TnnBlock`: one TNN layer, a GTU token mixer and a GLU channel mixer with residuals and SimpleRMSNorm.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { add } from "../core/ops.js";
import { type Tensor } from "../core/tensor.js";
import { type Glu } from "./glu.js";
import { type Gtu } from "./gtu.js";
import { SimpleRMSNorm } from "./simple-rms-norm.js";

type F32 = Tensor<"float32">;

/** Parts of a {@link TnnBlock}. */
export interface TnnBlockParts {
  readonly mixer: Gtu;
  readonly glu: Glu;
  /** Pre-norm (the causal LM) or post-norm (the encoder). */
  readonly prenorm: boolean;
  /** Defaults to SimpleRMSNorm with eps 1e-8. */
  readonly norm?: SimpleRMSNorm;
}

/**
 * Pre-norm: `x = x + GTU(SRMS(x)); x = x + GLU(SRMS(x))`.
 * Post-norm: `x = SRMS(x + GTU(x)); x = SRMS(x + GLU(x))`.
 * Both norms are the same parameter-free SimpleRMSNorm.
 */
export class TnnBlock {
  readonly mixer: Gtu;
  readonly glu: Glu;
  readonly norm: SimpleRMSNorm;
  readonly prenorm: boolean;

  /**
   * Takes ownership of the parts.
   * @throws {ShapeError} the GTU and GLU have different widths
   */
  constructor(parts: TnnBlockParts) {
    if (parts.mixer.dim !== parts.glu.l1.inFeatures) {
      throw new ShapeError(`TnnBlock: GTU width ${parts.mixer.dim} differs from GLU width ${parts.glu.l1.inFeatures}`);
    }
    this.mixer = parts.mixer;
    this.glu = parts.glu;
    this.prenorm = parts.prenorm;
    this.norm = parts.norm ?? new SimpleRMSNorm();
  }

  /** Model width d. */
  get dim(): number {
    return this.mixer.dim;
  }

  /** The block applied to `x` (`[n, d]`): a new `[n, d]` tensor; `x` is left as it is. */
  forward(x: F32): F32 {
    return this.prenorm ? this.#pre(x) : this.#post(x);
  }

  #pre(x: F32): F32 {
    const h = this.norm.forward(x);
    let y: F32;
    try {
      y = this.mixer.forward(h);
    } finally {
      h.dispose();
    }
    try {
      add(x, y, y);
      const h2 = this.norm.forward(y);
      let z: F32;
      try {
        z = this.glu.forward(h2);
      } finally {
        h2.dispose();
      }
      add(y, z, z);
      return z;
    } finally {
      y.dispose();
    }
  }

  #post(x: F32): F32 {
    const y = this.mixer.forward(x);
    try {
      add(x, y, y);
      this.norm.forward(y, y);
      const z = this.glu.forward(y);
      add(y, z, z);
      return this.norm.forward(z, z);
    } finally {
      y.dispose();
    }
  }

  /** Frees the mixer and GLU. Idempotent. */
  dispose(): void {
    this.mixer.dispose();
    this.glu.dispose();
    this.norm.dispose();
  }
}
