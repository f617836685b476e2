/**
 * A weights file against a model's declared parameters: the check that runs before any data is read, where each
 * tensor's bytes go while they arrive, and the {@link VarBuilder} that hands the staged tensors to the layers.
 * @module
 */
import { WeightsMismatchError } from "../core/errors.js";
import { type Matrix, QuantizedMatrix } from "../core/quantized-matrix.js";
import { type Tensor } from "../core/tensor.js";
import { type ParamSpec, PrefixedVarBuilder } from "../nn/var-builder.js";
import { type SafetensorsHeader } from "./safetensors.js";
import { type StagedDType, type StagedWeights, type StagingTarget } from "./weight-stager.js";

/** Bookkeeping tensors fairseq saves that carry no parameters. */
const IGNORED = /(^|\.)(version|_float_tensor)$/;

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16"]);

const fmt = (s: readonly number[]): string => `[${s.join(", ")}]`;

/**
 * Lists every missing, unexpected, non-float and mis-shaped tensor of `file` against the parameters a model
 * declared (`what` names the model in the message).
 * @throws {WeightsMismatchError} with one line per problem
 */
export function checkParams(specs: readonly ParamSpec[], file: SafetensorsHeader, what: string): void {
  const problems: string[] = [];
  const declared = new Set<string>();
  for (const s of specs) {
    declared.add(s.name);
    const t = file.get(s.name);
    if (!t) {
      if (s.twin === undefined) problems.push(`missing ${s.name}: expected shape ${fmt(s.dims)}`);
      continue;
    }
    if (!FLOAT_DTYPES.has(t.dtype)) problems.push(`${s.name}: dtype ${t.dtype} is not supported; expected F32, F16 or BF16`);
    if (t.shape.length !== s.dims.length || t.shape.some((d, i) => d !== s.dims[i])) {
      problems.push(`${s.name}: expected shape ${fmt(s.dims)}, got ${fmt(t.shape)}`);
    }
  }
  for (const name of file.names()) {
    if (!declared.has(name) && !IGNORED.test(name)) problems.push(`unexpected ${name} ${fmt(file.get(name)!.shape)}`);
  }
  if (problems.length) {
    throw new WeightsMismatchError(`the weights do not fit a ${what} (${problems.length} problem${problems.length > 1 ? "s" : ""})`, problems);
  }
}

/**
 * The wasm bytes staging `file` for `specs` takes: every tensor in its storage dtype, plus the largest tensor's raw
 * bytes while it is converted. A tied weight the file stores a second time counts once, as the stager keeps one copy
 * when the two agree (a file whose copies differ can need more; each allocation is still held to the budget).
 */
export function stagedBytes(specs: readonly ParamSpec[], file: SafetensorsHeader, dtype: StagedDType): number {
  let total = 0;
  let transient = 0;
  for (const s of specs) {
    const t = file.get(s.name);
    if (!t || s.twin !== undefined) continue;
    const elems = s.dims.reduce((a, b) => a * b, 1);
    const raw = t.end - t.begin;
    if (s.packed) {
      total += 4 * elems;
    } else if (s.kind === "matrix" && dtype === "int8") {
      total += elems + 4 * (s.dims[0] ?? 0);
      transient = Math.max(transient, 3 * 2 ** 20); // one block of rows, raw and widened
    } else {
      const stored = s.kind === "matrix" && dtype === "float16" ? "F16" : "F32";
      total += (stored === "F16" ? 2 : 4) * elems;
      // A tensor kept in its file dtype is staged in place; a converted one holds its raw bytes (and, from BF16 to
      // F16, a float32 step) until it is converted.
      if (t.dtype !== stored) transient = Math.max(transient, raw + (t.dtype === "BF16" && stored === "F16" ? 4 * elems : 0));
    }
  }
  return total + transient;
}

/** Where each declared tensor goes when staged: matrices in the storage dtype, packed groups gathered, the rest float32. */
export function stagingTarget(specs: readonly ParamSpec[], dtype: StagedDType): StagingTarget {
  const byName = new Map(specs.map((s) => [s.name, s]));
  return (name) => {
    const s = byName.get(name);
    if (s === undefined) return undefined;
    if (s.packed) return s.packed;
    return s.kind === "matrix" ? dtype : "float32";
  };
}

/** Pairs of tied parameters, which files often store twice: the stager compares the second against the first. */
export function tiedPairs(specs: readonly ParamSpec[]): [string, string][] {
  return specs.filter((s) => s.twin !== undefined).map((s) => [s.twin!, s.name]);
}

function sameElements(a: Matrix, b: Matrix): boolean {
  if (a instanceof QuantizedMatrix || b instanceof QuantizedMatrix) {
    return a instanceof QuantizedMatrix && b instanceof QuantizedMatrix && a.equals(b);
  }
  if (a.dtype !== b.dtype || a.size !== b.size) return false;
  if (a.sharesDataWith(b)) return true;
  const x = a.data;
  const y = b.data;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
  return true;
}

/**
 * Hands staged tensors to the layers a model's `load` builds, and remembers what it handed out so that a failure
 * half-way frees everything ({@link disposeHandedOut}).
 */
export class StagedVarBuilder extends PrefixedVarBuilder {
  readonly #handedOut: { dispose(): void }[];

  constructor(staged: StagedWeights) {
    const out: { dispose(): void }[] = [];
    const keep = <T extends { dispose(): void }>(x: T): T => {
      out.push(x);
      return x;
    };
    super({
      matrix: (s) => keep(staged.take(s.name)),
      tensor: (s) => keep(staged.take(s.name) as Tensor<"float32">),
      packed: (group) => keep(staged.takeGroup(group)),
      tiedMatrix: (s, twin) => {
        const t = staged.peek(s.name);
        if (t && !sameElements(t, twin)) return keep(staged.take(s.name));
        if (t) staged.take(s.name).dispose();
        return keep(twin instanceof QuantizedMatrix ? twin.share() : twin.reshape(twin.dims));
      },
    });
    this.#handedOut = out;
  }

  /** Frees every tensor handed out so far (after a failed build). */
  disposeHandedOut(): void {
    for (const x of this.#handedOut.splice(0).reverse()) x.dispose();
  }
}
