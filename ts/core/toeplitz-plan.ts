/**
 * A planned depthwise Toeplitz product for one length and channel count. It owns FFT plans and scratch in wasm, so
 * reuse one per (n, channels, causal) and dispose it when done.
 * @module
 */
import { DisposedError, ShapeError, ValueRangeError } from "./errors.js";
import { _checkToeplitz, toeplitzCoeffRows } from "./ops.js";
import { Tensor } from "./tensor.js";
import { kernels } from "./wasm.js";

type F32 = Tensor<"float32">;
type Plan = InstanceType<ReturnType<typeof kernels>["ToeplitzPlan"]>;

/**
 * Sequence length past which the FFT path beats the direct sum (measured on the simd build), for causal tables or,
 * with `causal` false, bidirectional ones.
 */
export function toeplitzCrossover(causal = true): number {
  return causal ? kernels().toeplitz_crossover() : kernels().toeplitz_crossover_bidirectional();
}

/** The FFT length a plan picks for a circular convolution of at least `minLen` points: the least `2^a` or `3·2^a`. */
export function fastFftLen(minLen: number): number {
  let best = Infinity;
  for (const odd of [1, 3]) {
    let l = 2 * odd;
    while (l < minLen) l *= 2;
    best = Math.min(best, l);
  }
  return best;
}

/** Depthwise Toeplitz mixing of `[n, channels]` inputs; picks the direct or FFT path by the measured crossover. */
export class ToeplitzPlan {
  readonly n: number;
  readonly channels: number;
  readonly causal: boolean;
  #plan: Plan | undefined;

  constructor(n: number, channels: number, causal: boolean) {
    if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 26) throw new ValueRangeError(`ToeplitzPlan: n must be an integer in [1, 2^26], got ${n}`);
    if (!Number.isSafeInteger(channels) || channels < 1 || channels > 2 ** 20) {
      throw new ValueRangeError(`ToeplitzPlan: channels must be an integer in [1, 2^20], got ${channels}`);
    }
    this.n = n;
    this.channels = channels;
    this.causal = causal;
    this.#plan = new (kernels().ToeplitzPlan)(n, channels, causal);
  }

  #p(): Plan {
    if (!this.#plan) throw new DisposedError("ToeplitzPlan used after dispose()");
    return this.#plan;
  }

  /** Whether this length runs the FFT path (false: the direct sum). */
  get usesFft(): boolean {
    return this.#p().uses_fft();
  }

  /** Floats in the spectra {@link spectra} returns (to size a cache before computing them). */
  get spectraLength(): number {
    return this.#p().spectra_len();
  }

  /** Kernel spectra of a coefficient table, to cache and pass to {@link apply}. */
  spectra(coeffs: F32): F32 {
    const p = this.#p();
    const rows = toeplitzCoeffRows(this.n, this.causal);
    if (coeffs.dtype !== "float32" || coeffs.dims.length !== 2 || coeffs.dims[0] !== rows || coeffs.dims[1] !== this.channels) {
      throw new ShapeError(`ToeplitzPlan.spectra: coeffs must be float32 [${rows}, ${this.channels}], got ${coeffs.dtype} ${coeffs.shapeString}`);
    }
    const s = Tensor.empty("float32", [p.spectra_len()]);
    p.spectra(coeffs.ptr, s.ptr);
    return s;
  }

  /** `y = T x` with spectra from {@link spectra}. */
  apply(x: F32, spectra: F32, out?: F32): F32 {
    const p = this.#p();
    this.#checkX(x);
    if (spectra.dtype !== "float32" || spectra.size !== p.spectra_len()) {
      throw new ShapeError(`ToeplitzPlan.apply: spectra must be ${p.spectra_len()} floats from spectra(), got ${spectra.size}`);
    }
    const y = out ?? Tensor.empty("float32", [this.n, this.channels]);
    p.apply(x.ptr, spectra.ptr, y.ptr);
    return y;
  }

  /** `y = T x`, computing each channel's kernel spectrum on the fly (no cache, least memory). */
  applyCoeffs(x: F32, coeffs: F32, out?: F32): F32 {
    const p = this.#p();
    _checkToeplitz(x, coeffs, this.causal, "ToeplitzPlan.applyCoeffs");
    this.#checkX(x);
    const y = out ?? Tensor.empty("float32", [this.n, this.channels]);
    p.apply_coeffs(x.ptr, coeffs.ptr, y.ptr);
    return y;
  }

  #checkX(x: F32): void {
    if (x.dtype !== "float32" || x.dims.length !== 2 || x.dims[0] !== this.n || x.dims[1] !== this.channels) {
      throw new ShapeError(`ToeplitzPlan: x must be float32 [${this.n}, ${this.channels}], got ${x.dtype} ${x.shapeString}`);
    }
  }

  /** Frees the plan's wasm memory. Idempotent. */
  dispose(): void {
    this.#plan?.free();
    this.#plan = undefined;
  }
}
