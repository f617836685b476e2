/**
 * `TnnBlock`: one TNN layer, a token mixer and a channel mixer, each inside a residual connection with a norm.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { type Tensor } from "../core/tensor.js";
import { type ChannelMixer } from "./glu.js";
import { type TokenMixer } from "./gtu.js";
import { type Residual } from "./residual.js";
import { type SequenceMixer } from "./sequence-mixer.js";
import { type Tno } from "./tno.js";

type F32 = Tensor<"float32">;

/**
 * `x = residual(x, h ↦ tokenMixer(h, mix)); x = residual(x, channelMixer)`. Pre- or post-norm, and which GTU and
 * GLU, are the parts it is built from; `mix` is the layer's own Tno for a whole sequence, or a decode state.
 */
export class TnnBlock {
  /**
   * Takes ownership of the parts.
   * @throws {ShapeError} the two mixers have different widths
   */
  constructor(
    readonly tokenMixer: TokenMixer,
    readonly channelMixer: ChannelMixer,
    readonly residual: Residual,
  ) {
    if (tokenMixer.dim !== channelMixer.dim) {
      throw new ShapeError(`TnnBlock: token mixer width ${tokenMixer.dim} differs from channel mixer width ${channelMixer.dim}`);
    }
  }

  /** Model width d. */
  get dim(): number {
    return this.tokenMixer.dim;
  }

  /** The layer's Toeplitz kernel. */
  get tno(): Tno {
    return this.tokenMixer.tno;
  }

  /** The block on `x` (`[n, d]`): a new `[n, d]` tensor; `x` is left as it is. */
  forward(x: F32, mix: SequenceMixer = this.tno): F32 {
    using h = this.residual.apply(x, (y) => this.tokenMixer.forward(y, mix));
    return this.residual.apply(h, (y) => this.channelMixer.forward(y));
  }

  /** Frees both mixers. Idempotent. */
  dispose(): void {
    this.tokenMixer.dispose();
    this.channelMixer.dispose();
  }
}
