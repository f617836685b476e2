/**
 * The TNN's token mixers: gated Toeplitz units in the official code's three versions.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { mul, silu } from "../core/ops.js";
import { type Tensor } from "../core/tensor.js";
import { Linear } from "./linear.js";
import { type Residual, PreNorm } from "./residual.js";
import { type SequenceMixer } from "./sequence-mixer.js";
import { SimpleRMSNorm } from "./simple-rms-norm.js";
import { Tno, type TnoShape } from "./tno.js";
import { type VarBuilder } from "./var-builder.js";

type F32 = Tensor<"float32">;

/** A token mixer: `[n, d]` → `[n, d]`, mixing along the sequence through the {@link SequenceMixer} it is given. */
export interface TokenMixer {
  /** Model width d. */
  readonly dim: number;
  /** The layer's Toeplitz kernel (its RPE and decay): the mixer a whole-sequence forward passes. */
  readonly tno: Tno;
  forward(x: F32, mix: SequenceMixer): F32;
  dispose(): void;
}

/** Sizes and options every GTU version declares. */
export interface GtuShape extends Omit<TnoShape, "channels"> {
  /** Model width d. */
  readonly dim: number;
  /** Mixer width d1. */
  readonly channels: number;
  /** The official `use_norm`: a parameter-free SimpleRMSNorm on `u ⊙ y` before the output projection. */
  readonly outNorm?: boolean;
}

function chain(what: string, d: number, d1: number, layers: readonly [string, Linear, number, number][], tno: Tno): void {
  const bad = layers.filter(([, l, o, i]) => l.outFeatures !== o || l.inFeatures !== i);
  if (bad.length || tno.channels !== d1) {
    throw new ShapeError(
      `${what}: sizes do not chain for d=${d}, d1=${d1}: ` +
        [...layers.map(([n, l]) => `${n} [${l.outFeatures}, ${l.inFeatures}]`), `tno ${tno.channels} channels`].join(", "),
    );
  }
}

/**
 * The v2 GTU (the paper's): `u = SiLU(W_u x + b_u)`, `v = SiLU(W_v x + b_v)`, `out = W_o (u ⊙ T v) + b_o`, with
 * `outNorm` (the official `use_norm`) applying a SimpleRMSNorm to `u ⊙ T v` first. No inner residual.
 */
export class Gtu implements TokenMixer {
  /**
   * Takes ownership of the layers.
   * @throws {ShapeError} the sizes do not chain (d → d1 twice, TNO on d1, d1 → d)
   */
  constructor(
    readonly uProj: Linear,
    readonly vProj: Linear,
    readonly o: Linear,
    readonly tno: Tno,
    readonly outNorm?: SimpleRMSNorm,
  ) {
    const d = uProj.inFeatures;
    const d1 = uProj.outFeatures;
    chain("Gtu", d, d1, [["u_proj", uProj, d1, d], ["v_proj", vProj, d1, d], ["o", o, d, d1]], tno);
  }

  /** The official `GtuV2` parameters: `u_proj`, `v_proj`, `o`, `toep.*`. */
  static load(vb: VarBuilder, s: GtuShape): Gtu {
    return new Gtu(
      Linear.load(vb.pp("u_proj"), s.dim, s.channels),
      Linear.load(vb.pp("v_proj"), s.dim, s.channels),
      Linear.load(vb.pp("o"), s.channels, s.dim),
      Tno.load(vb.pp("toep"), s),
      s.outNorm ? new SimpleRMSNorm() : undefined,
    );
  }

  get dim(): number {
    return this.uProj.inFeatures;
  }

  /** Mixer width d1. */
  get channels(): number {
    return this.uProj.outFeatures;
  }

  forward(x: F32, mix: SequenceMixer): F32 {
    using u = this.uProj.forward(x);
    silu(u, u);
    using v = this.vProj.forward(x);
    silu(v, v);
    using y = mix.mix(v);
    mul(u, y, u);
    this.outNorm?.forward(u, u);
    return this.o.forward(u);
  }

  dispose(): void {
    this.uProj.dispose();
    this.vProj.dispose();
    this.o.dispose();
    this.tno.dispose();
  }
}

/**
 * The v3 GTU: one projection for both gates and no activation, `u = W_in x + b_in`, `out = W_out (u ⊙ T u) + b_out`
 * (with `outNorm` as in {@link Gtu}).
 */
export class GtuV3 implements TokenMixer {
  /** @throws {ShapeError} the sizes do not chain */
  constructor(
    readonly inProj: Linear,
    readonly outProj: Linear,
    readonly tno: Tno,
    readonly outNorm?: SimpleRMSNorm,
  ) {
    const d = inProj.inFeatures;
    const d1 = inProj.outFeatures;
    chain("GtuV3", d, d1, [["in_proj", inProj, d1, d], ["out_proj", outProj, d, d1]], tno);
  }

  /** The official `GtuV3` parameters: `in_proj`, `out_proj`, `toep.*`. */
  static load(vb: VarBuilder, s: GtuShape): GtuV3 {
    return new GtuV3(
      Linear.load(vb.pp("in_proj"), s.dim, s.channels),
      Linear.load(vb.pp("out_proj"), s.channels, s.dim),
      Tno.load(vb.pp("toep"), s),
      s.outNorm ? new SimpleRMSNorm() : undefined,
    );
  }

  get dim(): number {
    return this.inProj.inFeatures;
  }

  forward(x: F32, mix: SequenceMixer): F32 {
    using u = this.inProj.forward(x);
    using y = mix.mix(u);
    mul(u, y, y);
    this.outNorm?.forward(y, y);
    return this.outProj.forward(y);
  }

  dispose(): void {
    this.inProj.dispose();
    this.outProj.dispose();
    this.tno.dispose();
  }
}

/**
 * The v1 GTU: the v2 unit with a SimpleRMSNorm in front and a residual around it, `x + GtuV2(SRMS(x))`, under the
 * same parameter names.
 */
export class GtuV1 implements TokenMixer {
  readonly #residual: Residual = new PreNorm(new SimpleRMSNorm());

  constructor(readonly inner: Gtu) {}

  /** The official v1 `Gtu` parameters (the same names as {@link Gtu.load}). */
  static load(vb: VarBuilder, s: GtuShape): GtuV1 {
    return new GtuV1(Gtu.load(vb, s));
  }

  get dim(): number {
    return this.inner.dim;
  }

  get tno(): Tno {
    return this.inner.tno;
  }

  forward(x: F32, mix: SequenceMixer): F32 {
    return this.#residual.apply(x, (h) => this.inner.forward(h, mix));
  }

  dispose(): void {
    this.inner.dispose();
  }
}
