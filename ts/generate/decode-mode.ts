/**
 * How the Toeplitz layers are decoded token by token.
 * @module
 */

/**
 * - `"online"`: relaxed (online) FFT convolution, exact, `O(log² t)` amortized work per token and channel. Default.
 * - `"naive"`: the history dot product, exact, `O(t)` per token and channel. The reference.
 * - `"etsc"`: the ETSC diagonal-SSM form with window N, constant work and state per token. Exact only while every
 *   offset is below N, i.e. for the first N positions of a sequence; past that the kernel it applies is the N+1
 *   periodic extension of the true one, so outputs drift from the model's.
 */
export type DecodeMode = "online" | "naive" | "etsc";

/** Every {@link DecodeMode}. */
export const DECODE_MODES: readonly DecodeMode[] = Object.freeze(["online", "naive", "etsc"]);
