/**
 * The read-only decode kernels of a model's Toeplitz layers, built once per length bucket (online and naive modes)
 * or per window (ETSC) and shared by every sequence decoded with the model.
 * @module
 */
import { DisposedError, ValueRangeError } from "../core/errors.js";
import { memoryBudget } from "../core/memory.js";
import { Tensor } from "../core/tensor.js";
import { type Tno } from "../nn/tno.js";
import { EtscKernelHandle, OnlineKernelHandle } from "../core/decode-conv.js";

/**
 * Smallest length bucket. Kernels and states grow with the bucket: the paper-shaped LM (7 layers × 1536 channels)
 * grew wasm memory by 5.7 MiB for its first decoded token at 64 against 23 MiB at 256, which decides whether a
 * short generation fits a Worker's 128 MB next to 97 MB of f16 weights. Outgrowing a bucket costs one kernel build
 * and one re-prefill of the histories, O(cap log cap) per doubling, so small buckets cost little time.
 */
export const MIN_BUCKET = 64;

/** The length bucket for sequences of up to `length` tokens: the next power of two, at least {@link MIN_BUCKET}. */
export function lengthBucket(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0 || length > 2 ** 30) throw new ValueRangeError(`length must be an integer in [0, 2^30], got ${length}`);
  let cap = MIN_BUCKET;
  while (cap < length) cap *= 2;
  return cap;
}

interface Entry<H> {
  readonly handles: H[];
  readonly bytes: number;
  refs: number;
}

/** A lease on one bucket's kernels (one per layer); `release()` when the sequence using them is done. */
export interface KernelLease<H> {
  readonly kernels: readonly H[];
  release(): void;
}

/** Most bytes of unused kernels kept for reuse by default; never more than an eighth of the memory budget. */
export const DEFAULT_KERNEL_CACHE_BYTES = 256 * 2 ** 20;

/**
 * The default cache size under the current memory budget: in a Worker (118 MiB) 14.75 MiB. A sequence that grows
 * through the buckets toward its window leaves each outgrown bucket's kernels behind; kept without limit, the shipped
 * model's (64 to 2,048 tokens) held 38 MB that the windowed states could not reuse.
 */
function defaultCacheBytes(): number {
  return Math.min(DEFAULT_KERNEL_CACHE_BYTES, Math.floor(memoryBudget() / 8));
}

/**
 * Per-model cache of decode kernels. Kernels in use are never freed; unused ones are kept, least recently used
 * dropped first, while they fit `cacheBytes`.
 */
export class DecodeKernelCache {
  readonly #tnos: readonly Tno[];
  readonly #online = new Map<number, Entry<OnlineKernelHandle>>();
  readonly #etsc = new Map<number, Entry<EtscKernelHandle>>();
  readonly #cacheBytes: number | undefined;
  #disposed = false;

  /** @param cacheBytes bytes of unused kernels kept; default: see {@link DEFAULT_KERNEL_CACHE_BYTES} */
  constructor(tnos: readonly Tno[], cacheBytes?: number) {
    this.#tnos = tnos;
    this.#cacheBytes = cacheBytes;
  }

  /** Bytes of unused kernels kept for reuse (read at each trim: a default follows the memory budget). */
  get cacheBytes(): number {
    return this.#cacheBytes ?? defaultCacheBytes();
  }

  /** Kernels for sequences of up to `cap` tokens (`cap` a power of two), built on first use. */
  online(cap: number): KernelLease<OnlineKernelHandle> {
    return this.#lease(this.#online, cap, (tno) => {
      using coeffs = tno.coefficients(cap);
      return new OnlineKernelHandle(coeffs, cap, tno.channels);
    });
  }

  /**
   * Kernels for sequences of up to `cap` tokens that keep only the first {@link OnlineKernelHandle.minRows}
   * coefficient rows and evaluate the RPE for the lags a block reads past them when it fires (about one row per
   * token and block size): for decoding where the full table (4 bytes per position and channel, plus the block
   * spectra) does not fit. Not cached: they are small and cheap to build, and released with their sequence.
   */
  onlineShort(cap: number): KernelLease<OnlineKernelHandle> {
    if (this.#disposed) throw new DisposedError("model used after dispose()");
    const rows = Math.min(cap, OnlineKernelHandle.minRows);
    const handles = this.#build((tno) => {
      using coeffs = tno.coefficients(rows);
      return new OnlineKernelHandle(coeffs, cap, tno.channels, (from, count) => tno.coefficients(count, { from }));
    });
    let released = false;
    return {
      kernels: handles,
      release: () => {
        if (released) return;
        released = true;
        for (const h of handles) h.dispose();
      },
    };
  }

  /** ETSC kernels of window `window`, built on first use. */
  etsc(window: number): KernelLease<EtscKernelHandle> {
    return this.#lease(this.#etsc, window, (tno) => {
      // ETSC decays separately, through its poles: it starts from the undecayed RPE values.
      using coeffs = tno.coefficients(window, { decay: false });
      const g = tno.gamma;
      using gamma = g ? Tensor.from(g) : undefined;
      return new EtscKernelHandle(coeffs, gamma, window, tno.channels);
    });
  }

  /** Bytes of wasm memory held by every cached kernel. */
  get memoryBytes(): number {
    let b = 0;
    for (const m of [this.#online, this.#etsc] as Map<number, Entry<{ memoryBytes: number }>>[]) for (const e of m.values()) b += e.bytes;
    return b;
  }

  /** One handle per layer from `make`; if one cannot be made, those already made are freed before the error goes on. */
  #build<H extends { dispose(): void }>(make: (tno: Tno) => H): H[] {
    const handles: H[] = [];
    try {
      for (const tno of this.#tnos) handles.push(make(tno));
    } catch (err) {
      for (const h of handles) h.dispose();
      throw err;
    }
    return handles;
  }

  #lease<H extends { memoryBytes: number; dispose(): void }>(map: Map<number, Entry<H>>, key: number, make: (tno: Tno) => H): KernelLease<H> {
    if (this.#disposed) throw new DisposedError("model used after dispose()");
    let e = map.get(key);
    if (e) {
      map.delete(key); // re-insert: Map order is the LRU order
    } else {
      const handles = this.#build(make);
      e = { handles, bytes: handles.reduce((s, h) => s + h.memoryBytes, 0), refs: 0 };
    }
    map.set(key, e);
    e.refs++;
    this.#trim();
    const entry = e;
    let released = false;
    return {
      kernels: entry.handles,
      release: () => {
        if (released) return;
        released = true;
        entry.refs--;
        this.#trim();
      },
    };
  }

  /** Frees unused kernels, oldest first, until the unused ones fit the budget. */
  #trim(): void {
    const maps = [this.#online, this.#etsc] as Map<number, Entry<{ dispose(): void }>>[];
    let idle = 0;
    for (const m of maps) for (const e of m.values()) if (e.refs === 0) idle += e.bytes;
    for (const m of maps) {
      for (const [k, e] of m) {
        if (idle <= this.cacheBytes) return;
        if (e.refs > 0) continue;
        m.delete(k);
        idle -= e.bytes;
        for (const h of e.handles) h.dispose();
      }
    }
  }

  /** Frees every kernel, in use or not. */
  dispose(): void {
    this.#disposed = true;
    for (const m of [this.#online, this.#etsc] as Map<number, Entry<{ dispose(): void }>>[]) {
      for (const e of m.values()) for (const h of e.handles) h.dispose();
      m.clear();
    }
  }
}
