/**
 * `ClassificationHead`: the TNN RoBERTa's sentence classification head (`classification_heads.<name>.*`).
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { Tensor } from "../core/tensor.js";
import { Linear } from "../nn/linear.js";
import { type VarBuilder } from "../nn/var-builder.js";

type F32 = Tensor<"float32">;

/** The sizes of one classification head, as a file's shapes give them. */
export interface ClassificationHeadSpec {
  readonly name: string;
  /** dense's output width. */
  readonly inner: number;
  readonly classes: number;
}

const HEAD_RE = /^classification_heads\.([^.]+)\.(dense|out_proj)\.weight$/;

/** The classification heads a file holds (`classification_heads.<name>.*`), sized by their shapes; sorted by name. */
export function classificationHeadsOf(file: { names(): Iterable<string>; get(name: string): { readonly shape: readonly number[] } | undefined }): ClassificationHeadSpec[] {
  const names = new Set<string>();
  for (const n of file.names()) {
    const m = HEAD_RE.exec(n);
    if (m) names.add(m[1]!);
  }
  return [...names].sort().map((name) => {
    const dense = file.get(`classification_heads.${name}.dense.weight`)?.shape;
    const out = file.get(`classification_heads.${name}.out_proj.weight`)?.shape;
    // A malformed head keeps plausible sizes here; the parameter check then reports its shapes by name.
    return { name, inner: dense?.length === 2 ? dense[0]! : 1, classes: out?.length === 2 ? out[0]! : 1 };
  });
}

/**
 * Mean pooling over every position, then `out_proj(tanh(dense(mean)))`: the official TNN RoBERTa's
 * `RobertaClassificationNoClsHead` (a TNN has no [CLS] position to read).
 */
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

  /** `classification_heads.<name>.dense` (d → inner) and `.out_proj` (inner → classes) under `vb`. */
  static load(vb: VarBuilder, spec: ClassificationHeadSpec, dim: number): ClassificationHead {
    const h = vb.pp("classification_heads").pp(spec.name);
    return new ClassificationHead(spec.name, Linear.load(h.pp("dense"), dim, spec.inner), Linear.load(h.pp("out_proj"), spec.inner, spec.classes));
  }

  /** Class logits of one sequence's hidden states `h` (`[n, d]`): `[1, classes]`, written to `out` when given. */
  forward(h: F32, out?: F32): F32 {
    const [n, d] = h.dims as [number, number];
    using row = Tensor.zeros("float32", [1, d]);
    // The mean of every position, as the official TNN RoBERTa's head pools (padding included): one pass, in JS.
    const mean = row.data;
    const x = h.data;
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] = mean[j]! + x[i * d + j]!;
    for (let j = 0; j < d; j++) mean[j] = mean[j]! / n;
    using z = this.dense.forward(row);
    // tanh over one pooled vector per sequence (d values): too little work to need a kernel of its own.
    const v = z.data;
    for (let i = 0; i < v.length; i++) v[i] = Math.tanh(v[i]!);
    return this.outProj.forward(z, out);
  }

  /** Frees both layers. Idempotent. */
  dispose(): void {
    this.dense.dispose();
    this.outProj.dispose();
  }
}
