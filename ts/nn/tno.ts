/**
 * `Tno`: the Toeplitz neural operator, depthwise Toeplitz mixing along the sequence with RPE coefficients.
 * @module
 */
import { DTypeError, InvalidOptionError, ShapeError, ValueRangeError } from "../core/errors.js";
import { toeplitzCoeffRows } from "../core/ops.js";
import { Tensor } from "../core/tensor.js";
import { ToeplitzPlan, fastFftLen, toeplitzCrossover } from "../core/toeplitz-plan.js";
import { WindowKernelHandle, windowConvState } from "../core/decode-conv.js";
import { decayWindow, windowBytes, windowChunk, windowLowerBound } from "./decay-window.js";
import { Rpe } from "./rpe.js";
import { type SequenceMixer } from "./sequence-mixer.js";
import { type VarBuilder } from "./var-builder.js";

type F32 = Tensor<"float32">;

/** Options of {@link Tno}. */
export interface TnoOptions {
  /** Causal (`t_k = 0` for k < 0) or bidirectional. */
  readonly causal: boolean;
  /** Heads h. They only change how the official code reshapes gamma and the RPE output; the mixing is depthwise. */
  readonly heads?: number;
  /**
   * Bytes of coefficient tables and FFT spectra kept per length n, least recently used dropped first. A length is
   * kept from its second product on: a first one computes its spectra on the fly. Default 64 MiB.
   */
  readonly cacheBytes?: number;
}

/** The sizes {@link Tno.load} declares. */
export interface TnoShape extends TnoOptions {
  /** Mixer channels d1. */
  readonly channels: number;
  /** RPE hidden width e. */
  readonly rpeDim: number;
  /** RPE hidden stages R. */
  readonly rpeLayers: number;
  /** Whether the kernel decays (`toep.gamma` exists). */
  readonly decay: boolean;
}

/** A plan for one length and its kernel in the plan's own form (spectra past the crossover, else the table). */
interface CacheEntry {
  readonly plan: ToeplitzPlan;
  readonly spectra: F32;
  readonly bytes: number;
}

/**
 * Causal products at least this long (and at least twice the window) run through the windowed kernel: shorter ones
 * are cheaper as one cached FFT product.
 */
export const WINDOWED_MIN_LENGTH = 8192;

/** Lengths a Tno remembers having seen once, so that the second product of one of them caches its spectra. */
const SEEN_LENGTHS = 16;

/** Default {@link TnoOptions.cacheBytes}. */
export const DEFAULT_TNO_CACHE_BYTES = 64 * 2 ** 20;

/**
 * `y_i[c] = Σ_j t_{i-j}[c] · x_j[c]` with `t_0 = RPE(0)` and `t_k = λ_c^|k| · RPE(k)` for `k ≠ 0`.
 *
 * Coefficients depend only on n and the weights, so the tables (short inputs, direct sum) or FFT spectra (long
 * inputs) are cached per n within a byte budget, once a length comes back: an input's length often does not, and
 * keeping its spectra would cost memory the size of the activations (25 MiB per layer of the paper-size LM at 2,048
 * tokens) and the time to fault it in. Other products compute per-channel spectra on the fly, which needs no cache.
 */
export class Tno implements SequenceMixer {
  readonly causal: boolean;
  readonly heads: number;
  readonly channels: number;
  readonly cacheBytes: number;
  readonly #rpe: Rpe;
  readonly #gamma: F32 | undefined;
  readonly #cache = new Map<number, CacheEntry>();
  #cachedBytes = 0;
  /** Lengths seen once and not cached yet, oldest first (at most {@link SEEN_LENGTHS}). */
  readonly #seen = new Set<number>();
  #window: number | undefined;
  #windowFloor: number | undefined;
  #windowKernel: WindowKernelHandle | undefined;

  /**
   * Takes ownership of `rpe` and `gamma` (the official `toep.gamma`, `(h, 1, d1/h)`: per-channel decay λ in channel
   * order `c = head·(d1/h) + j`; undefined for no decay).
   * @throws {ShapeError} gamma's size is not the RPE's channel count, or heads do not divide it
   * @throws {InvalidOptionError} bad heads or cacheBytes
   */
  constructor(rpe: Rpe, gamma: F32 | undefined, options: TnoOptions) {
    const channels = rpe.channels;
    const heads = options.heads ?? 1;
    if (!Number.isSafeInteger(heads) || heads < 1) throw new InvalidOptionError(`Tno: heads must be a positive integer, got ${heads}`);
    if (channels % heads !== 0) throw new ShapeError(`Tno: ${heads} heads do not divide ${channels} channels`);
    const cacheBytes = options.cacheBytes ?? DEFAULT_TNO_CACHE_BYTES;
    if (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0) {
      throw new InvalidOptionError(`Tno: cacheBytes must be a non-negative integer, got ${cacheBytes}`);
    }
    if (gamma !== undefined) {
      if (gamma.dtype !== "float32") throw new DTypeError(`Tno: gamma must be float32, got ${gamma.dtype}`);
      if (gamma.size !== channels) {
        throw new ShapeError(`Tno: gamma has ${gamma.size} values, expected ${channels} (h=${heads}, d1/h=${channels / heads})`);
      }
    }
    this.causal = options.causal;
    this.heads = heads;
    this.channels = channels;
    this.cacheBytes = cacheBytes;
    this.#rpe = rpe;
    this.#gamma = gamma;
  }

  /** The official `toep.*` parameters: `rpe.*` and, with decay, `gamma` `(h, 1, d1/h)`. */
  static load(vb: VarBuilder, shape: TnoShape): Tno {
    const h = shape.heads ?? 1;
    const rpe = Rpe.load(vb.pp("rpe"), { rpeDim: shape.rpeDim, layers: shape.rpeLayers, channels: shape.channels });
    return new Tno(rpe, shape.decay ? vb.tensor("gamma", [h, 1, shape.channels / h]) : undefined, shape);
  }

  /** The RPE MLP; owned by this layer. */
  get rpe(): Rpe {
    return this.#rpe;
  }

  /** A copy of the per-channel λ (d1 values, channel order), or undefined when there is no decay. */
  get gamma(): Float32Array | undefined {
    return this.#gamma?.toArray();
  }

  /**
   * Causal coefficients for offsets `from..from+count-1` (`from` default 0): `[count, d1]`. With `decay` (default
   * true) row k is `λ^k RPE(k)` (row 0 undecayed); without it, the raw `RPE(k)`.
   */
  coefficients(count: number, options: { decay?: boolean; from?: number } = {}): F32 {
    if (!Number.isSafeInteger(count) || count < 0) throw new ValueRangeError(`Tno.coefficients: count must be a non-negative integer, got ${count}`);
    const from = options.from ?? 0;
    if (!Number.isSafeInteger(from) || from < 0 || from > 2 ** 30) throw new ValueRangeError(`Tno.coefficients: from must be an integer in [0, 2^30], got ${from}`);
    return this.#rpe.forward(from, count, options.decay === false ? undefined : this.#gamma);
  }

  /**
   * The decay window K of the causal kernel: past it every channel's tail `Σ_{k≥K} |t_k|` is provably below float32
   * resolution of the sum it leaves (`decay-window.ts` gives the bound), so a causal product is the finite
   * convolution with `t_0..t_{K−1}` at any length. Infinity without decay. Computed once.
   */
  get window(): number {
    if (this.#window === undefined) {
      const gamma = this.gamma;
      this.#window = gamma ? decayWindow(gamma, this.#rpe.bound(), (k0, count) => this.#rpe.forward(k0, count, this.#gamma)).window : Infinity;
    }
    return this.#window;
  }

  /**
   * The windowed kernel of this layer (`t_0..t_{K−1}`, see {@link window}) for exact products and decoding in
   * memory that does not grow with the sequence: built on first use and kept until {@link clearCache}; undefined when
   * the window is infinite or the kernel is bidirectional.
   */
  windowKernel(): WindowKernelHandle | undefined {
    if (!this.causal || !Number.isFinite(this.window)) return undefined;
    if (!this.#windowKernel) {
      using t = this.coefficients(this.window);
      this.#windowKernel = new WindowKernelHandle(t, this.window, this.channels, windowChunk(this.window));
    }
    return this.#windowKernel;
  }

  /**
   * A lower bound on {@link window} that costs nothing to compute: `n` below it settles "shorter than the window"
   * without evaluating the RPE. Infinity without decay.
   */
  get windowLowerBound(): number {
    this.#windowFloor ??= this.#gamma ? windowLowerBound(this.#gamma.data) : Infinity;
    return this.#windowFloor;
  }

  /** Whether a product of `n` rows runs through the windowed kernel (long causal inputs of a decayed kernel). */
  #windowed(n: number): boolean {
    return this.causal && n >= WINDOWED_MIN_LENGTH && n >= 2 * this.windowLowerBound && n >= 2 * this.window;
  }

  /** The coefficient table a product of length n reads (see ARCHITECTURE.md): `[n or 2n-1, d1]`. */
  #table(n: number): F32 {
    return this.#rpe.forward(this.causal ? 0 : -(n - 1), toeplitzCoeffRows(n, this.causal), this.#gamma);
  }

  /**
   * An upper bound on the wasm bytes {@link forward} of `n` rows allocates (its output included, its input not): the
   * coefficient table, the FFT scratch (about 128 bytes per FFT point, plus the planner's tables) and, if they fit
   * the cache, the kernel spectra it keeps. What `reserve` is asked for before a forward pass.
   */
  forwardBytes(n: number): number {
    const c = this.channels;
    const out = n * c * 4;
    // Until the window is known (working it out allocates, which a refused call must not), a long causal product
    // may go either way: the larger of the two, with the window at its largest, n/2.
    if (this.causal && n >= WINDOWED_MIN_LENGTH && this.#window === undefined) {
      return out + Math.max(windowBytes(Math.floor(n / 2), c), this.#planBytes(n));
    }
    if (this.#windowed(n)) return out + windowBytes(this.window, c, this.#windowKernel !== undefined);
    return out + this.#planBytes(n);
  }

  /** What the FFT or direct product of `n` rows allocates besides its output. */
  #planBytes(n: number): number {
    const c = this.channels;
    const table = toeplitzCoeffRows(n, this.causal) * c * 4;
    if (n < toeplitzCrossover(this.causal) || this.#cache.has(n)) return table;
    const L = fastFftLen(2 * n - 1);
    const spectra = Math.ceil(c / 8) * 16 * (L / 2 + 1) * 4;
    return table + 160 * L + (this.#seen.has(n) && spectra <= this.cacheBytes ? spectra : 0);
  }

  /** The whole sequence `v` mixed at once: {@link forward}. */
  mix(v: F32): F32 {
    return this.forward(v);
  }

  /**
   * Mixes `x` (`[n, d1]`) along the sequence: `[n, d1]`.
   * @throws {ShapeError} `x` is not `[n, d1]`
   */
  forward(x: F32): F32 {
    if (x.dtype !== "float32") throw new DTypeError(`Tno: x must be float32, got ${x.dtype}`);
    if (x.dims.length !== 2 || x.dims[1] !== this.channels) throw new ShapeError(`Tno: x must be [n, ${this.channels}], got ${x.shapeString}`);
    const n = x.dims[0]!;
    if (n === 0) return Tensor.empty("float32", [0, this.channels]);
    if (this.#windowed(n)) return this.#forwardWindowed(x);
    const hit = this.#cache.get(n);
    if (hit) {
      this.#cache.delete(n);
      this.#cache.set(n, hit);
      return hit.plan.apply(x, hit.spectra);
    }
    // The plan picks the direct sum or the FFT by the crossover measured for this kind of table.
    const plan = new ToeplitzPlan(n, this.channels, this.causal);
    let coeffs: F32 | undefined;
    try {
      coeffs = this.#table(n);
      const bytes = plan.spectraLength * 4;
      if (bytes <= this.cacheBytes && !this.#firstSight(n)) {
        const spectra = plan.spectra(coeffs);
        coeffs.dispose();
        this.#remember(n, { plan, spectra, bytes });
        return plan.apply(x, spectra);
      }
      const y = plan.applyCoeffs(x, coeffs);
      plan.dispose();
      return y;
    } catch (e) {
      if (!this.#cache.has(n)) plan.dispose();
      throw e;
    } finally {
      coeffs?.dispose();
    }
  }

  /** The product through a fresh windowed state: memory of the window, not of n (the tail past it is below rounding). */
  #forwardWindowed(x: F32): F32 {
    const state = windowConvState(this.windowKernel()!);
    const y = Tensor.empty("float32", x.dims);
    try {
      state.push!(x, y);
      return y;
    } catch (e) {
      y.dispose();
      throw e;
    } finally {
      state.dispose();
    }
  }

  /** Whether n is new: remembered then (the oldest of {@link SEEN_LENGTHS} forgotten), so its next product caches. */
  #firstSight(n: number): boolean {
    if (this.#seen.delete(n)) return false;
    if (this.#seen.size >= SEEN_LENGTHS) this.#seen.delete(this.#seen.values().next().value!);
    this.#seen.add(n);
    return true;
  }

  /** Caches `entry` for length n if it fits the budget, evicting the least recently used. */
  #remember(n: number, entry: CacheEntry): boolean {
    if (entry.bytes > this.cacheBytes) return false;
    for (const [k, old] of this.#cache) {
      if (this.#cachedBytes + entry.bytes <= this.cacheBytes) break;
      this.#cache.delete(k);
      this.#cachedBytes -= old.bytes;
      disposeEntry(old);
    }
    this.#cache.set(n, entry);
    this.#cachedBytes += entry.bytes;
    return true;
  }

  /** Bytes of coefficient tables and spectra held in the cache now. */
  get cachedBytes(): number {
    return this.#cachedBytes;
  }

  /** Drops every cached table, plan and spectrum, and the windowed kernel. */
  clearCache(): void {
    for (const e of this.#cache.values()) disposeEntry(e);
    this.#cache.clear();
    this.#seen.clear();
    this.#cachedBytes = 0;
    this.#windowKernel?.dispose();
    this.#windowKernel = undefined;
  }

  /** Frees the RPE, gamma and the cache. Idempotent. */
  dispose(): void {
    this.clearCache();
    this.#rpe.dispose();
    this.#gamma?.dispose();
  }
}

function disposeEntry(e: CacheEntry): void {
  e.spectra.dispose();
  e.plan.dispose();
}
