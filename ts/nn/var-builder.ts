/**
 * `VarBuilder`: where a layer gets its parameters, after candle's. A layer's `static load(vb, ...)` names each of its
 * parameters once, and that one function serves twice: first with a {@link DeclaringVarBuilder}, which records every
 * name, shape and storage kind without touching memory (the loader checks a file's header against that list and
 * routes the file's bytes by it), then with a builder over the loaded tensors, which hands them to the layers.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { type Matrix, QuantizedMatrix } from "../core/quantized-matrix.js";
import { Tensor } from "../core/tensor.js";

type F32 = Tensor<"float32">;

/**
 * How a parameter is kept: `matrix` in the model's storage dtype (a Linear or Embedding weight: float32, float16 or
 * int8), `float32` always float32 (biases, norms, decays, the RPE).
 */
export type ParamKind = "matrix" | "float32";

/** One parameter a model reads, as its layer declared it. */
export interface ParamSpec {
  /** The full checkpoint name. */
  readonly name: string;
  readonly dims: readonly number[];
  readonly kind: ParamKind;
  /** For a member of a packed group (see {@link VarBuilder.packed}): the group's key, and where in it this goes. */
  readonly packed?: { readonly group: string; readonly offset: number; readonly groupSize: number };
  /** A tied weight the file may omit: the name of the parameter it is tied to, whose values are used then. */
  readonly twin?: string;
}

/** A place to get named parameters from; names are relative to {@link prefix}. */
export interface VarBuilder {
  /** The names' common prefix, ending in "." (or empty). */
  readonly prefix: string;
  /** A builder for the names under `name.` */
  pp(name: string | number): VarBuilder;
  /** A weight matrix `[out, in]`, in the model's storage dtype. */
  matrix(name: string, dims: readonly [number, number]): Matrix;
  /** A float32 parameter. */
  tensor(name: string, dims: readonly number[]): F32;
  /**
   * Several float32 parameters laid end to end in one tensor, in the order given: a layer that reads its parameters
   * as one buffer (the RPE) gets them without a copy.
   */
  packed(parts: readonly (readonly [name: string, dims: readonly number[]])[]): F32;
  /**
   * The matrix `name` if the file holds different values; the file may omit it, or hold a copy of `twin`, and then
   * `twin`'s storage is shared (a tied output projection).
   */
  tiedMatrix(name: string, twin: Matrix): Matrix;
}

/** What a concrete builder supplies; names arrive complete. */
export interface VarBackend {
  matrix(spec: ParamSpec): Matrix;
  tensor(spec: ParamSpec): F32;
  packed(group: string, parts: readonly ParamSpec[]): F32;
  tiedMatrix(spec: ParamSpec, twin: Matrix): Matrix;
}

const size = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** A {@link VarBuilder} over a backend, adding the prefixes. */
export class PrefixedVarBuilder implements VarBuilder {
  constructor(
    readonly backend: VarBackend,
    readonly prefix = "",
  ) {}

  pp(name: string | number): VarBuilder {
    return new PrefixedVarBuilder(this.backend, `${this.prefix}${name}.`);
  }

  matrix(name: string, dims: readonly [number, number]): Matrix {
    return this.backend.matrix({ name: this.prefix + name, dims, kind: "matrix" });
  }

  tensor(name: string, dims: readonly number[]): F32 {
    return this.backend.tensor({ name: this.prefix + name, dims, kind: "float32" });
  }

  packed(parts: readonly (readonly [name: string, dims: readonly number[]])[]): F32 {
    if (parts.length === 0) throw new ShapeError("VarBuilder.packed: no parameters to pack");
    const group = this.prefix + parts[0]![0];
    const groupSize = parts.reduce((s, [, d]) => s + size(d), 0);
    let offset = 0;
    const specs = parts.map(([name, dims]): ParamSpec => {
      const spec: ParamSpec = { name: this.prefix + name, dims, kind: "float32", packed: { group, offset, groupSize } };
      offset += size(dims);
      return spec;
    });
    return this.backend.packed(group, specs);
  }

  tiedMatrix(name: string, twin: Matrix): Matrix {
    return this.backend.tiedMatrix({ name: this.prefix + name, dims: twin.dims, kind: "matrix" }, twin);
  }
}

/**
 * Records what a model's `load` asks for and hands back declared tensors (dims and dtype, no memory), so a model can
 * be "built" to learn its parameter list before a byte of its file is read.
 */
export class DeclaringVarBuilder extends PrefixedVarBuilder {
  readonly #specs: ParamSpec[];

  constructor() {
    const specs: ParamSpec[] = [];
    // Which name each handed-out matrix was declared under, so a tied twin can be named.
    const names = new WeakMap<object, string>();
    super({
      matrix: (s) => {
        specs.push(s);
        const t = Tensor.declared("float32", s.dims);
        names.set(t, s.name);
        return t;
      },
      tensor: (s) => {
        specs.push(s);
        return Tensor.declared("float32", s.dims);
      },
      packed: (_group, parts) => {
        specs.push(...parts);
        return Tensor.declared("float32", [parts[0]!.packed!.groupSize]);
      },
      tiedMatrix: (s, twin) => {
        const of = names.get(twin);
        if (of === undefined) throw new ShapeError(`VarBuilder.tiedMatrix: ${s.name} is tied to a matrix that was not declared here`);
        specs.push({ ...s, twin: of });
        return twin instanceof QuantizedMatrix ? QuantizedMatrix.declared(twin.dims as [number, number]) : Tensor.declared(twin.dtype, twin.dims);
      },
    });
    this.#specs = specs;
  }

  /** Every parameter asked for so far, in order. */
  get specs(): readonly ParamSpec[] {
    return this.#specs;
  }
}
