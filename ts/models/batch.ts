/**
 * Running each sequence of a batch into its slice of one output tensor, one sequence at a time, so memory is that
 * of one sequence plus the output.
 * @module
 */
import { Tensor } from "../core/tensor.js";
import { type ParsedIds } from "./token-ids.js";

/**
 * Allocates the output (`[batch, ...dims]` for a batch, else `dims`) and lets `fill` write each sequence's part.
 * On failure nothing is left allocated.
 */
export function mapSequences(parsed: ParsedIds, dims: readonly number[], fill: (seq: Int32Array, out: Tensor<"float32">) => void): Tensor<"float32"> {
  const out = Tensor.empty("float32", parsed.batched ? [parsed.sequences.length, ...dims] : dims);
  try {
    parsed.sequences.forEach((seq, b) => {
      if (!parsed.batched) return fill(seq, out);
      using part = out.select(b);
      fill(seq, part);
    });
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}

/** The rows of `h` (`[n, d]`) a head reads: all of them, or with `lastOnly` the last as `[1, d]`; shares storage. */
export function headRows(h: Tensor<"float32">, lastOnly: boolean): Tensor<"float32"> {
  if (!lastOnly) return h.reshape(h.dims);
  using row = h.select(h.dims[0]! - 1);
  return row.reshape([1, row.size]);
}
