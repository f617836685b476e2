/**
 * `MlmHead`: RoBERTa's masked-LM head on the encoder (`encoder.lm_head.*`).
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { gelu } from "../core/ops.js";
import { type Tensor } from "../core/tensor.js";
import { type LayerNorm } from "../nn/layer-norm.js";
import { type Linear } from "../nn/linear.js";

type F32 = Tensor<"float32">;

/** `logits = LayerNorm(GELU(dense(h))) · Eᵀ + bias`, with `E` tied to the token embedding. */
export class MlmHead {
  /**
   * Takes ownership of the parts. `decoder` holds `E` (`[V, d]`, usually sharing the embedding's storage) and the
   * vocabulary bias.
   * @throws {ShapeError} the sizes do not chain
   */
  constructor(
    readonly dense: Linear,
    readonly layerNorm: LayerNorm,
    readonly decoder: Linear,
  ) {
    if (dense.outFeatures !== layerNorm.dim || decoder.inFeatures !== layerNorm.dim) {
      throw new ShapeError(`MlmHead: dense → ${dense.outFeatures}, layer_norm ${layerNorm.dim}, decoder from ${decoder.inFeatures} do not chain`);
    }
  }

  /** Vocabulary size. */
  get vocabSize(): number {
    return this.decoder.outFeatures;
  }

  /** Logits of hidden states `h` (`[m, d]`): `[m, V]`, written to `out` when given. */
  forward(h: F32, out?: F32): F32 {
    const z = this.dense.forward(h);
    try {
      gelu(z, z);
      this.layerNorm.forward(z, z);
      return this.decoder.forward(z, out);
    } finally {
      z.dispose();
    }
  }

  /** Frees every part. Idempotent. */
  dispose(): void {
    this.dense.dispose();
    this.layerNorm.dispose();
    this.decoder.dispose();
  }
}
