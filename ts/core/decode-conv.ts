/**
 * Per-sequence, per-layer state of the causal Toeplitz convolution during decoding, over the wasm decode kernels,
 * and the shared read-only kernels they run with.
 * @module
 */
import { DecodeStateError, DisposedError } from "./errors.js";
import { type Tensor } from "./tensor.js";
import { kernels } from "./wasm.js";

type F32 = Tensor<"float32">;
type K = ReturnType<typeof kernels>;
type WasmOnlineKernel = InstanceType<K["OnlineKernel"]>;
type WasmEtscKernel = InstanceType<K["EtscKernel"]>;
type WasmWindowKernel = InstanceType<K["WindowKernel"]>;
type WasmWindowState = InstanceType<K["WindowState"]>;

/** A read-only wasm decode kernel shared by many states; freed once by its owner. */
abstract class KernelHandle<T extends { free(): void; memory_bytes(): number }> {
  #k: T | undefined;

  protected constructor(k: T, private readonly what: string) {
    this.#k = k;
  }

  get raw(): T {
    if (!this.#k) throw new DisposedError(`${this.what} used after dispose()`);
    return this.#k;
  }

  /** Bytes held in wasm memory. */
  get memoryBytes(): number {
    return this.raw.memory_bytes();
  }

  dispose(): void {
    this.#k?.free();
    this.#k = undefined;
  }
}

/** Bytes an {@link OnlineKernelHandle} of `rows` rows for `capacity` positions of `channels` allocates. */
export function onlineKernelBytes(rows: number, capacity: number, channels: number): number {
  return kernels().OnlineKernel.bytes_for(rows, capacity, channels);
}

/**
 * Bytes an online (or naive) state of `rows` positions on a kernel of capacity `capacity` allocates under the
 * current thread pool: its table and one FFT scratch per thread.
 */
export function onlineStateBytes(rows: number, capacity: number, channels: number): number {
  return kernels().OnlineConvState.bytes_for(rows, capacity, channels);
}

/** Computes `count` rows of a layer's decayed coefficient table from lag `from` on: a new `[count, c]` tensor. */
export type LagSource = (from: number, count: number) => F32;

/**
 * The shared part of exact decoding for one layer and length bucket: coefficients `t_0..t_{rows-1}` and the spectra
 * of the dyadic blocks they cover.
 */
export class OnlineKernelHandle extends KernelHandle<WasmOnlineKernel> {
  /** The fewest coefficient rows a kernel keeps. */
  static get minRows(): number {
    return kernels().OnlineKernel.min_rows();
  }

  readonly rows: number;

  /**
   * `coeffs` is `[rows, c]` (row k = `t_k`, decayed) for sequences of up to `capacity` positions, a power of two; the
   * table is copied. With all `capacity` rows the kernel serves every call; with fewer (at least
   * {@link OnlineKernelHandle.minRows}) it keeps only those, and `lags` computes the rest when a call reads them.
   */
  constructor(coeffs: F32, readonly capacity: number, readonly channels: number, readonly lags?: LagSource) {
    const rows = coeffs.dims[0]!;
    if (rows < capacity && !lags) throw new DecodeStateError(`a decode kernel of ${rows} of ${capacity} rows needs a source for the other lags`);
    super(new (kernels().OnlineKernel)(coeffs.ptr, rows, capacity, channels), "decode kernel");
    this.rows = rows;
  }
}

/** The shared part of ETSC decoding for one layer and window N: N complex modes per channel. */
export class EtscKernelHandle extends KernelHandle<WasmEtscKernel> {
  /** `coeffs` is the undecayed `[N, c]` table `RPE(0..N-1)`; `gamma` the per-channel λ (`[c]`), or undefined for 1. */
  constructor(coeffs: F32, gamma: F32 | undefined, readonly window: number, readonly channels: number) {
    super(new (kernels().EtscKernel)(coeffs.ptr, gamma ? gamma.ptr : 0, window, channels), "ETSC kernel");
  }
}

/**
 * The shared part of windowed decoding for one layer: `t_0..t_{K-1}` for a kernel that is zero from lag K on, as
 * the within-chunk online kernel (chunks of `chunk` positions) and the spectra of the far product.
 */
export class WindowKernelHandle extends KernelHandle<WasmWindowKernel> {
  /** `coeffs` is `[window, c]` (row k = `t_k`, decayed); `chunk` a power of two ≥ 2. The table is copied. */
  constructor(coeffs: F32, readonly window: number, readonly channels: number, readonly chunk: number) {
    super(new (kernels().WindowKernel)(coeffs.ptr, window, channels, chunk), "window kernel");
  }
}

/** One layer's convolution state for one sequence. `v` and `y` rows are `[*, channels]` float32 tensors. */
export interface ConvState {
  /** Positions consumed. */
  readonly position: number;
  /** Positions it can hold (Infinity for ETSC, whose state is constant). */
  readonly capacity: number;
  /** Bytes of wasm memory held by this state. */
  readonly memoryBytes: number;
  /** Consumes `n` prompt rows of `v` at position 0 and writes their outputs to `y`. */
  prefill(v: F32, n: number, y: F32): void;
  /** Consumes one row `v` (`[1, c]` or `[c]`) and writes its output to `y`. */
  step(v: F32, y: F32): void;
  /** Copies the inputs consumed so far (`[position, c]`) into `out` (exact modes only). */
  history?(out: F32): void;
  /** Consumes the rows of `v` at any position and writes their outputs to `y` (states that take any number). */
  push?(v: F32, y: F32): void;
  reset(): void;
  dispose(): void;
}

/** What every wasm decode state has: its position, its bytes, a reset, and its memory to free. */
interface WasmState {
  position(): number;
  memory_bytes(): number;
  reset(): void;
  free(): void;
}

interface WasmEtscState extends WasmState {
  prefill(kernel: never, v: number, n: number, y: number): boolean;
  step(kernel: never, v: number, y: number): boolean;
}

/** An exact state (online or naive): it reads lags past its kernel's table from `far`, and keeps its inputs. */
interface WasmExactState extends WasmState {
  lags_needed(n: number): number;
  prefill(kernel: never, v: number, n: number, far: number, y: number): boolean;
  step(kernel: never, v: number, far: number, y: number): boolean;
  copy_history(out: number): void;
}

/** Owns one wasm state: the members every kind of state shares, and the use-after-dispose check. */
abstract class OwnedState<S extends WasmState> {
  #s: S | undefined;

  constructor(state: S) {
    this.#s = state;
  }

  protected get state(): S {
    if (!this.#s) throw new DisposedError("decode state used after dispose()");
    return this.#s;
  }

  get position(): number {
    return this.state.position();
  }

  get memoryBytes(): number {
    return this.state.memory_bytes();
  }

  reset(): void {
    this.state.reset();
  }

  dispose(): void {
    this.#s?.free();
    this.#s = undefined;
  }
}

/** Wraps a wasm state whose kernel must be passed on every call; `run` makes the call, false when it is refused. */
abstract class KernelConv<S extends WasmState> extends OwnedState<S> implements ConvState {
  constructor(
    state: S,
    readonly capacity: number,
  ) {
    super(state);
  }

  protected abstract run(v: F32, n: number, y: F32, prefill: boolean): boolean;

  prefill(v: F32, n: number, y: F32): void {
    if (!this.run(v, n, y, true)) {
      throw new DecodeStateError(
        this.position !== 0
          ? `prefill needs a fresh state (position 0), this one is at ${this.position}`
          : `a ${n}-token prompt does not fit this state's capacity of ${this.capacity}`,
      );
    }
  }

  step(v: F32, y: F32): void {
    if (!this.run(v, 1, y, false)) {
      throw new DecodeStateError(`the decode state is full: it holds ${this.capacity} positions`);
    }
  }
}

/** Online or naive: the lags a call reads past the kernel's table come from the kernel's source, for that call. */
class ExactConv extends KernelConv<WasmExactState> {
  readonly #kernel: OnlineKernelHandle;

  constructor(state: WasmExactState, kernel: OnlineKernelHandle, capacity: number) {
    super(state, capacity);
    this.#kernel = kernel;
  }

  protected run(v: F32, n: number, y: F32, prefill: boolean): boolean {
    const s = this.state;
    const k = this.#kernel;
    const need = s.lags_needed(n);
    using far = need > k.rows ? k.lags!(k.rows, need - k.rows) : undefined;
    const farPtr = far ? far.ptr : 0;
    return prefill ? s.prefill(k.raw as never, v.ptr, n, farPtr, y.ptr) : s.step(k.raw as never, v.ptr, farPtr, y.ptr);
  }

  history(out: F32): void {
    this.state.copy_history(out.ptr);
  }
}

/**
 * Exact relaxed FFT convolution state for up to `capacity` positions (default: the kernel's; any number up to it: a
 * state sized to the sequence's last position holds 4 bytes per position and channel).
 */
export function onlineConvState(kernel: OnlineKernelHandle, capacity = kernel.capacity): ConvState {
  return new ExactConv(new (kernels().OnlineConvState)(kernel.raw, capacity) as unknown as WasmExactState, kernel, capacity);
}

/** Exact `O(t)` reference state. */
export function naiveConvState(kernel: OnlineKernelHandle, capacity = kernel.capacity): ConvState {
  return new ExactConv(new (kernels().NaiveConvState)(kernel.raw, capacity) as unknown as WasmExactState, kernel, capacity);
}

class EtscConv extends KernelConv<WasmEtscState> {
  readonly #kernel: EtscKernelHandle;

  constructor(kernel: EtscKernelHandle) {
    super(new (kernels().EtscState)(kernel.raw) as unknown as WasmEtscState, Infinity);
    this.#kernel = kernel;
  }

  protected run(v: F32, n: number, y: F32, prefill: boolean): boolean {
    const k = this.#kernel.raw as never;
    return prefill ? this.state.prefill(k, v.ptr, n, y.ptr) : this.state.step(k, v.ptr, y.ptr);
  }
}

/** ETSC state (constant size; exact for the first `window` positions). */
export function etscConvState(kernel: EtscKernelHandle): ConvState {
  return new EtscConv(kernel);
}

/** A windowed state: never full, takes any number of rows at any position. */
class WindowConv extends OwnedState<WasmWindowState> implements ConvState {
  readonly capacity = Infinity;
  readonly #kernel: WindowKernelHandle;

  constructor(kernel: WindowKernelHandle) {
    super(new (kernels().WindowState)(kernel.raw));
    this.#kernel = kernel;
  }

  push(v: F32, y: F32): void {
    const n = v.dims.length === 1 ? 1 : v.dims[0]!;
    this.state.push(this.#kernel.raw, v.ptr, n, y.ptr);
  }

  prefill(v: F32, n: number, y: F32): void {
    if (this.position !== 0) throw new DecodeStateError(`prefill needs a fresh state (position 0), this one is at ${this.position}`);
    this.state.push(this.#kernel.raw, v.ptr, n, y.ptr);
  }

  step(v: F32, y: F32): void {
    this.state.push(this.#kernel.raw, v.ptr, 1, y.ptr);
  }
}

/** Exact windowed state: memory and time per token independent of the position. */
export function windowConvState(kernel: WindowKernelHandle): ConvState {
  return new WindowConv(kernel);
}
