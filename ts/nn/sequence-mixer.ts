/**
 * `SequenceMixer`: what a token mixer applies along the sequence. A block's forward takes one as an argument, so the
 * same block code runs a whole sequence (the layer's {@link Tno}) or a decode step (a per-sequence state that holds
 * the history), as candle's `forward(x, pos, cache)` does.
 * @module
 */
import { type Tensor } from "../core/tensor.js";

/** The Toeplitz product of one layer over the rows `v` (`[n, channels]`) that come next in a sequence. */
export interface SequenceMixer {
  /** `y_i = Σ_j t_{i-j} v_j` for the rows of `v`, which follow whatever this mixer has already seen. The caller owns `y`. */
  mix(v: Tensor<"float32">): Tensor<"float32">;
}
