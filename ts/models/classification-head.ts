/**
 * `ClassificationHead`: RoBERTa's sentence classification head (`classification_heads.<name>.*`).
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { type Tensor } from "../core/tensor.js";
import { type Linear } from "../nn/linear.js";

type F32 = Tensor<"float32">;

/** First-token pooling, then `out_proj(tanh(dense(h_0)))`. */
export class ClassificationHead {
  /**
   * Takes ownership of both layers.
   * @throws {ShapeError} dense's output is not out_proj's input
   */
  constructor(
    readonly name: string,
    readonly dense: Linear,
    readonly outProj: Linear,
  ) {
    if (dense.outFeatures !== outProj.inFeatures) {
      throw new ShapeError(`ClassificationHead "${name}": dense gives ${dense.outFeatures} features, out_proj takes ${outProj.inFeatures}`);
    }
  }

  /** Number of classes. */
  get numClasses(): number {
    return this.outProj.outFeatures;
  }

  /** Class logits of one sequence's hidden states `h` (`[n, d]`): `[1, classes]`, written to `out` when given. */
  forward(h: F32, out?: F32): F32 {
    const first = h.select(0);
    const row = first.reshape([1, first.size]);
    first.dispose();
    let z: F32;
    try {
      z = this.dense.forward(row);
    } finally {
      row.dispose();
    }
    try {
      // tanh over one pooled vector per sequence (d values): too little work to need a kernel of its own.
      const v = z.data;
      for (let i = 0; i < v.length; i++) v[i] = Math.tanh(v[i]!);
      return this.outProj.forward(z, out);
    } finally {
      z.dispose();
    }
  }

  /** Frees both layers. Idempotent. */
  dispose(): void {
    this.dense.dispose();
    this.outProj.dispose();
  }
}
