/**
 * `Tensor<T>`: an n-dimensional array in wasm memory whose dtype is part of its type.
 * @module
 */
import { BYTES_PER_ELEMENT, type DType, type TypedArrayFor, dtypeOfArray, viewOf } from "./dtype.js";
import { DTypeError, DisposedError, ShapeError, TnnError } from "./errors.js";
import { heapAlloc, heapFree } from "./memory.js";
import { memoryBuffer } from "./wasm.js";

/** The bytes behind one or more tensors (reshape shares them). Freed when the last tensor lets go. */
class Storage {
  refs = 1;
  constructor(
    readonly ptr: number,
    readonly bytes: number,
  ) {}
  release(): void {
    if (--this.refs === 0) heapFree(this.ptr, this.bytes);
  }
}

// Frees tensors a caller forgot to dispose. A safety net only: the GC may run late or never.
const finalizer = typeof FinalizationRegistry !== "undefined" ? new FinalizationRegistry<Storage>((s) => s.release()) : undefined;

function checkDims(dims: readonly number[]): number {
  if (!Array.isArray(dims)) throw new ShapeError(`dims must be an array of non-negative integers, got ${String(dims)}`);
  let size = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new ShapeError(`dims must be non-negative integers, got [${dims.join(", ")}]`);
    size *= d;
  }
  if (!Number.isSafeInteger(size)) throw new ShapeError(`tensor of dims [${dims.join(", ")}] is too large`);
  return size;
}

/**
 * An n-dimensional array of `T` elements, stored in wasm memory.
 *
 * `data` gives a fresh view each time it is read: a view made before a kernel call may be detached by memory growth.
 * Call `dispose()` when done; tensors that are forgotten are freed by the garbage collector eventually.
 */
export class Tensor<T extends DType = DType> {
  /** Element type. */
  readonly dtype: T;
  /** Sizes of each dimension, outermost first. */
  readonly dims: readonly number[];
  /** Number of elements. */
  readonly size: number;
  #storage: Storage | undefined;
  readonly #offset: number;
  /** A declared tensor: dims and dtype only, never any storage (see {@link Tensor.declared}). */
  readonly #declared: boolean;

  private constructor(dtype: T, dims: readonly number[], size: number, storage: Storage | undefined, offset = 0) {
    this.dtype = dtype;
    this.dims = Object.freeze([...dims]);
    this.size = size;
    this.#storage = storage;
    this.#offset = offset;
    this.#declared = storage === undefined;
    if (storage) finalizer?.register(this, storage, this);
  }

  /**
   * A tensor that only declares a dtype and dims and owns no memory: what a layer is built from when its parameters
   * are being declared rather than loaded. Reading its data throws; disposing it does nothing.
   */
  static declared<T extends DType>(dtype: T, dims: readonly number[]): Tensor<T> {
    if (!(dtype in BYTES_PER_ELEMENT)) throw new DTypeError(`unknown dtype "${String(dtype)}"; expected float32, int32, float16 or int8`);
    return new Tensor(dtype, dims, checkDims(dims), undefined);
  }

  /** Whether this tensor was made by {@link Tensor.declared} (it has no data). */
  get isDeclared(): boolean {
    return this.#declared;
  }

  /** Allocates an uninitialised tensor. */
  static empty<T extends DType>(dtype: T, dims: readonly number[]): Tensor<T> {
    if (!(dtype in BYTES_PER_ELEMENT)) throw new DTypeError(`unknown dtype "${String(dtype)}"; expected float32, int32, float16 or int8`);
    const size = checkDims(dims);
    const bytes = size * BYTES_PER_ELEMENT[dtype];
    return new Tensor(dtype, dims, size, new Storage(heapAlloc(bytes), bytes));
  }

  /** Allocates a zero-filled tensor. */
  static zeros<T extends DType>(dtype: T, dims: readonly number[]): Tensor<T> {
    const t = Tensor.empty(dtype, dims);
    t.data.fill(0);
    return t;
  }

  /**
   * Copies `data` into a new tensor of `dims` (default: 1-D). The dtype follows the array: Float32Array → float32,
   * Int32Array → int32, Uint16Array → float16 bits, Int8Array → int8. A plain number array becomes float32.
   */
  static from(data: Float32Array | number[], dims?: readonly number[]): Tensor<"float32">;
  static from(data: Int32Array, dims?: readonly number[]): Tensor<"int32">;
  static from(data: Uint16Array, dims?: readonly number[]): Tensor<"float16">;
  static from(data: Int8Array, dims?: readonly number[]): Tensor<"int8">;
  static from(data: Float32Array | Int32Array | Uint16Array | Int8Array | number[], dims?: readonly number[]): Tensor {
    const arr = Array.isArray(data) ? Float32Array.from(data) : data;
    const dtype = dtypeOfArray(arr);
    if (!dtype) throw new DTypeError(`Tensor.from: expected Float32Array, Int32Array, Uint16Array, Int8Array or number[]`);
    const shape = dims ?? [arr.length];
    const size = checkDims(shape);
    if (size !== arr.length) {
      throw new ShapeError(`Tensor.from: ${arr.length} elements do not fill dims [${shape.join(", ")}] (${size} elements)`);
    }
    const t = Tensor.empty(dtype, shape);
    (t.data as Float32Array | Int32Array | Uint16Array | Int8Array).set(arr as never);
    return t;
  }

  /** Byte offset of the first element in wasm memory. For kernels; invalid after dispose. */
  get ptr(): number {
    if (this.#declared) throw new TnnError(`a declared ${this.dtype} tensor ${this.shapeString} has no data`);
    if (!this.#storage) throw new DisposedError("tensor used after dispose()");
    return this.#storage.ptr + this.#offset;
  }

  /** Whether `dispose()` was called. */
  get disposed(): boolean {
    return this.#storage === undefined && !this.#declared;
  }

  /** Whether both tensors view the same elements (one was made from the other by `reshape`). */
  sharesDataWith(other: Tensor): boolean {
    return this.#storage !== undefined && this.#storage === other.#storage && this.#offset === other.#offset;
  }

  /** A view of the elements in wasm memory. Do not keep it across calls into tnn. */
  get data(): TypedArrayFor<T> {
    return viewOf(this.dtype, memoryBuffer(), this.ptr, this.size);
  }

  /** Copies the elements out of wasm memory into a new typed array. */
  toArray(): TypedArrayFor<T> {
    return this.data.slice() as TypedArrayFor<T>;
  }

  /** A tensor of other dims over the same elements. Both must be disposed. */
  reshape(dims: readonly number[]): Tensor<T> {
    const size = checkDims(dims);
    if (size !== this.size) throw new ShapeError(`cannot reshape [${this.dims.join(", ")}] to [${dims.join(", ")}]`);
    if (this.#declared) return Tensor.declared(this.dtype, dims);
    const s = this.#storage;
    if (!s) throw new DisposedError("tensor used after dispose()");
    s.refs++;
    return new Tensor(this.dtype, dims, size, s, this.#offset);
  }

  /** The `index`-th slice along the first dimension, sharing these elements. Both must be disposed. */
  select(index: number): Tensor<T> {
    if (this.#declared) throw new TnnError(`a declared ${this.dtype} tensor ${this.shapeString} has no data`);
    const s = this.#storage;
    if (!s) throw new DisposedError("tensor used after dispose()");
    if (this.dims.length === 0) throw new ShapeError("select: a scalar tensor has no first dimension");
    const n = this.dims[0]!;
    if (!Number.isSafeInteger(index) || index < 0 || index >= n) {
      throw new ShapeError(`select: index ${index} out of range for first dimension of size ${n}`);
    }
    const inner = this.dims.slice(1);
    const innerSize = n === 0 ? 0 : this.size / n;
    s.refs++;
    return new Tensor(this.dtype, inner, innerSize, s, this.#offset + index * innerSize * BYTES_PER_ELEMENT[this.dtype]);
  }

  /** Frees the elements at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Frees the elements now. Idempotent. */
  dispose(): void {
    const s = this.#storage;
    if (!s) return;
    this.#storage = undefined;
    finalizer?.unregister(this);
    s.release();
  }

  /** `dims` as `"[2, 3]"`, for messages. */
  get shapeString(): string {
    return `[${this.dims.join(", ")}]`;
  }
}

/** Throws a {@link DTypeError} unless `t` has dtype `dtype`. Narrows the type. */
export function expectDType<T extends DType>(t: Tensor, dtype: T, what: string): asserts t is Tensor<T> {
  if (t.dtype !== dtype) throw new DTypeError(`${what}: expected a ${dtype} tensor, got ${t.dtype}`);
}

/** Throws a {@link ShapeError} unless `t.dims` equals `dims` (`-1` matches any size). */
export function expectDims(t: Tensor, dims: readonly number[], what: string): void {
  const ok = t.dims.length === dims.length && dims.every((d, i) => d === -1 || d === t.dims[i]);
  if (!ok) {
    const want = `[${dims.map((d) => (d === -1 ? "*" : String(d))).join(", ")}]`;
    throw new ShapeError(`${what}: expected dims ${want}, got ${t.shapeString}`);
  }
}
