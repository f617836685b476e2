/**
 * `MlmHead`: RoBERTa's masked-LM head on the encoder (`encoder.lm_head.*`).
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { gelu } from "../core/ops.js";
import { type Tensor } from "../core/tensor.js";
import { type Matrix } from "../core/quantized-matrix.js";
import { LayerNorm } from "../nn/layer-norm.js";
import { Linear } from "../nn/linear.js";
import { type VarBuilder } from "../nn/var-builder.js";

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

  /**
   * `encoder.lm_head.*` under `vb`: `dense`, `layer_norm`, and `weight` (tied to `embedding`, the file may omit it)
   * with `bias`.
   */
  static load(vb: VarBuilder, dim: number, vocabSize: number, embedding: Matrix): MlmHead {
    const h = vb.pp("encoder").pp("lm_head");
    return new MlmHead(Linear.load(h.pp("dense"), dim, dim), LayerNorm.load(h.pp("layer_norm"), dim), new Linear(h.tiedMatrix("weight", embedding), h.tensor("bias", [vocabSize])));
  }

  /** Vocabulary size. */
  get vocabSize(): number {
    return this.decoder.outFeatures;
  }

  /** Logits of hidden states `h` (`[m, d]`): `[m, V]`, written to `out` when given. */
  forward(h: F32, out?: F32): F32 {
    using z = this.dense.forward(h);
    gelu(z, z);
    this.layerNorm.forward(z, z);
    return this.decoder.forward(z, out);
  }

  /** Frees every part. Idempotent. */
  dispose(): void {
    this.dense.dispose();
    this.layerNorm.dispose();
    this.decoder.dispose();
  }
}
