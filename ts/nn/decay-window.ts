/**
 * The window beyond which a decayed causal Toeplitz kernel is zero to float32 precision, from a bound on the RPE
 * that holds for every offset.
 *
 * A channel's kernel is `t_0 = RPE(0)`, `t_k = λ^k·RPE(k)`. `Rpe.bound()` gives `B ≥ |RPE(k)|` for all k, so the
 * tail past K is at most `Σ_{k≥K} B·λ^k = B·λ^K / (1 − λ)`. The window is the smallest K at which that bound is at
 * most float32's unit roundoff `u = 2⁻²⁴` times `Σ_{k<K} |t_k|`: then dropping the tail changes an output
 * `Σ_k t_k v_{t−k}` by at most `u·Σ_{k<K}|t_k|·max|v|`, which is already the rounding error float32 makes on the sum
 * it keeps. Past K, the Toeplitz product is the finite convolution with `t_0..t_{K−1}` to the precision float32 can
 * show, however long the sequence.
 * @module
 */

import { type Tensor } from "../core/tensor.js";

/** float32's unit roundoff: the relative error of rounding one result. */
export const FLOAT32_ROUNDOFF = 2 ** -24;

/** Offsets evaluated per call while searching (a table of `STEP × channels` floats at a time). */
const STEP = 256;

/**
 * The window K (per channel, then the largest) for decays `gamma` (one λ per channel, `0 < λ < 1`), RPE bounds
 * `bound` (one `B_c` per channel) and the decayed coefficients, which `coefficients(k0, count)` returns as
 * `[count][channels]` (row k = `t_{k0+k}`). Infinite when some channel does not decay (λ ≥ 1) or needs more than
 * `limit` offsets.
 */
export function decayWindow(
  gamma: Float32Array,
  bound: Float64Array,
  coefficients: (k0: number, count: number) => Tensor<"float32">,
  limit = 1 << 22,
): { window: number; perChannel: Float64Array } {
  const c = gamma.length;
  const per = new Float64Array(c).fill(Infinity);
  if (gamma.some((l) => !(l < 1))) return { window: Infinity, perChannel: per };
  const sum = new Float64Array(c);
  // λ^K / (1 − λ) · B, kept up to date by one multiplication per row instead of a power.
  const tail = Float64Array.from({ length: c }, (_, ch) => (bound[ch]! * gamma[ch]!) / (1 - gamma[ch]!));
  let open = 0;
  for (let ch = 0; ch < c; ch++) {
    // A channel whose RPE is bounded by 0 is zero everywhere: nothing to keep.
    if (bound[ch] === 0) per[ch] = 1;
    else open++;
  }
  for (let k0 = 0; open > 0 && k0 < limit; k0 += STEP) {
    using table = coefficients(k0, STEP);
    // Read in place: a copy per block would be megabytes of garbage for a wide layer.
    const t = table.data;
    for (let r = 0; r < STEP && open > 0; r++) {
      const K = k0 + r + 1; // the window that keeps t_0..t_{k0+r}
      for (let ch = 0; ch < c; ch++) {
        if (per[ch] !== Infinity) continue;
        sum[ch] = sum[ch]! + Math.abs(t[r * c + ch]!);
        if (tail[ch]! <= FLOAT32_ROUNDOFF * sum[ch]!) {
          per[ch] = K;
          open--;
        }
        tail[ch] = tail[ch]! * gamma[ch]!;
      }
    }
  }
  let window = 0;
  for (let ch = 0; ch < c; ch++) window = Math.max(window, per[ch]!);
  return { window, perChannel: per };
}

/**
 * A lower bound on {@link decayWindow}'s window that needs no coefficients: since `Σ_{k<K}|t_k| ≤ B/(1 − λ)`, the
 * test `B·λ^K/(1 − λ) ≤ u·Σ_{k<K}|t_k|` cannot pass before `λ^K ≤ u`. Infinity without decay.
 */
export function windowLowerBound(gamma: Float32Array): number {
  let k = 1;
  for (const l of gamma) {
    if (!(l < 1)) return Infinity;
    if (l > 0) k = Math.max(k, Math.ceil(Math.log(FLOAT32_ROUNDOFF) / Math.log(l)));
  }
  return k;
}

/**
 * The chunk of a windowed state (a power of two): each chunk costs one FFT product of about K + chunk points, and the
 * state's chunk-sized buffers add to the ring of K inputs. Measured at K = 2,350 and 1,536 channels (simd128, one
 * core): chunks of 128, 256, 512 and 1,024 took 135, 78, 56 and 50 µs per token for 35, 38, 45 and 65 MiB of state
 * and kernel; the largest power of two up to K/4, at most 512, sits at the knee.
 */
export function windowChunk(window: number): number {
  let b = 64;
  while (2 * b <= 512 && 2 * b <= window / 4) b *= 2;
  return b;
}

/**
 * An upper bound on the wasm bytes of one layer's windowed kernel (unless `kernelBuilt`) and one state, for `c`
 * channels: the state's ring of K + B inputs, its far outputs and within-chunk state and FFT scratch; the kernel's
 * within-chunk coefficients and spectra and its far spectra.
 */
export function windowBytes(window: number, c: number, kernelBuilt = false): number {
  const b = windowChunk(window);
  const len = Math.ceil(1.5 * (window + b)) + 2; // the FFT length is at most 1.5× its minimum, K + B
  const state = 4 * c * (window + b) + 4 * c * b + 4 * c * b + 2 * 32 * (len + 2 * b) + 64 * (b + 1);
  const kernel = kernelBuilt ? 0 : 6 * c * b + 4 * c * (len + 2);
  return state + kernel;
}
