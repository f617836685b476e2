/**
 * Validation of the token ids a model's `forward` takes, and the per-sequence loop that fills a batched output.
 * @module
 */
import { DTypeError, InvalidOptionError, ShapeError, ValueRangeError } from "../core/errors.js";
import { Tensor } from "../core/tensor.js";

/** One sequence of token ids, or a batch of equal-length sequences. */
export type TokenIds = Int32Array | readonly number[] | readonly (readonly number[] | Int32Array)[];

/** Validated ids: the sequences, and whether the caller passed a batch. */
export interface ParsedIds {
  readonly sequences: readonly Int32Array[];
  readonly batched: boolean;
}

function parseSequence(seq: Int32Array | readonly number[], vocab: number, what: string, at: string): Int32Array {
  if (seq.length === 0) throw new ShapeError(`${what}: ${at}is empty; a sequence needs at least one token`);
  const out = seq instanceof Int32Array ? seq : new Int32Array(seq.length);
  for (let i = 0; i < seq.length; i++) {
    const id = seq[i];
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new ValueRangeError(`${what}: token id ${String(id)} at ${at}position ${i} is not an integer in [0, ${vocab})`);
    }
    out[i] = id;
  }
  return out;
}

/**
 * Checks `ids` against a vocabulary of `vocab` tokens.
 * @throws {ShapeError} an empty sequence or batch, a ragged batch, or a mix of numbers and sequences
 * @throws {ValueRangeError} an id that is negative, not an integer, or not below `vocab`
 * @throws {DTypeError} `ids` is not an Int32Array or an array
 */
export function parseTokenIds(ids: TokenIds, vocab: number, what: string): ParsedIds {
  if (ids instanceof Int32Array) return { sequences: [parseSequence(ids, vocab, what, "")], batched: false };
  if (!Array.isArray(ids)) throw new DTypeError(`${what}: ids must be an Int32Array, a number[] or a number[][]`);
  if (ids.length === 0) throw new ShapeError(`${what}: the sequence is empty; a sequence needs at least one token`);
  const nested = ids.map((s) => Array.isArray(s) || s instanceof Int32Array);
  if (!nested.some(Boolean)) return { sequences: [parseSequence(ids as readonly number[], vocab, what, "")], batched: false };
  const bad = nested.indexOf(false);
  if (bad >= 0) throw new ShapeError(`${what}: element ${bad} of the batch is not a sequence; mix of numbers and sequences`);
  const seqs = ids as readonly (readonly number[] | Int32Array)[];
  const n = seqs[0]!.length;
  seqs.forEach((s, b) => {
    if (s.length !== n) throw new ShapeError(`${what}: ragged batch: sequence ${b} has ${s.length} tokens, sequence 0 has ${n}`);
  });
  return { sequences: seqs.map((s, b) => parseSequence(s, vocab, what, `sequence ${b} `)), batched: true };
}

/** Options of a model's `forward`. */
export interface ForwardOptions {
  /** Logits of the last position only: dims `[1, V]` (or `[batch, 1, V]`). Default false. */
  readonly lastOnly?: boolean;
}

/**
 * Checks forward options.
 * @throws {InvalidOptionError} an unknown key or a non-boolean lastOnly
 */
export function parseForwardOptions(options: ForwardOptions | undefined, what: string): { lastOnly: boolean } {
  if (options === undefined) return { lastOnly: false };
  if (options === null || typeof options !== "object") throw new InvalidOptionError(`${what}: options must be an object`);
  for (const k of Object.keys(options)) if (k !== "lastOnly") throw new InvalidOptionError(`${what}: unknown option "${k}"; expected lastOnly`);
  if (options.lastOnly !== undefined && typeof options.lastOnly !== "boolean") {
    throw new InvalidOptionError(`${what}: lastOnly must be a boolean, got ${String(options.lastOnly)}`);
  }
  return { lastOnly: options.lastOnly ?? false };
}

/**
 * Allocates the output (`[batch, ...dims]` for a batch, else `dims`) and lets `fill` write each sequence's part.
 * On failure nothing is left allocated.
 */
export function mapSequences(parsed: ParsedIds, dims: readonly number[], fill: (seq: Int32Array, out: Tensor<"float32">) => void): Tensor<"float32"> {
  const out = Tensor.empty("float32", parsed.batched ? [parsed.sequences.length, ...dims] : dims);
  try {
    parsed.sequences.forEach((seq, b) => {
      const part = parsed.batched ? out.select(b) : out;
      try {
        fill(seq, part);
      } finally {
        if (part !== out) part.dispose();
      }
    });
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}

/** The last row of `h` (`[n, d]`) as a `[1, d]` tensor sharing its storage. */
export function lastRow(h: Tensor<"float32">): Tensor<"float32"> {
  const row = h.select(h.dims[0]! - 1);
  try {
    return row.reshape([1, row.size]);
  } finally {
    row.dispose();
  }
}

/**
 * The shared body of both models' `forward`: parse ids and options, run `hidden` per sequence, and send all rows (or
 * only the last, with `lastOnly`) through `head` into one `[n or 1, vocab]` slice per sequence.
 */
export function logitsForward(
  ids: TokenIds,
  options: ForwardOptions | undefined,
  vocab: number,
  what: string,
  hidden: (seq: Int32Array) => Tensor<"float32">,
  head: { forward(h: Tensor<"float32">, out?: Tensor<"float32">): Tensor<"float32"> },
): Tensor<"float32"> {
  const { lastOnly } = parseForwardOptions(options, what);
  const parsed = parseTokenIds(ids, vocab, what);
  const n = parsed.sequences[0]!.length;
  return mapSequences(parsed, [lastOnly ? 1 : n, vocab], (seq, out) => {
    const h = hidden(seq);
    const rows = lastOnly ? lastRow(h) : h;
    try {
      head.forward(rows, out);
    } finally {
      if (rows !== h) rows.dispose();
      h.dispose();
    }
  });
}

/** The layers a model runs ids through before its head. */
export interface LayerStack {
  readonly embed: { forward(ids: Int32Array): Tensor<"float32"> };
  /** The encoder's LayerNorm right after the embedding. */
  readonly embedNorm?: { forward(x: Tensor<"float32">, out?: Tensor<"float32">): Tensor<"float32"> } | undefined;
  readonly layers: readonly { forward(x: Tensor<"float32">): Tensor<"float32"> }[];
  readonly finalNorm?: { forward(x: Tensor<"float32">, out?: Tensor<"float32">): Tensor<"float32"> } | undefined;
}

/** Hidden states `[n, d]` of one sequence: embedding, optional embedding norm, every block, optional final norm. */
export function runLayerStack(stack: LayerStack, ids: Int32Array): Tensor<"float32"> {
  let x = stack.embed.forward(ids);
  try {
    stack.embedNorm?.forward(x, x);
    for (const layer of stack.layers) {
      const y = layer.forward(x);
      x.dispose();
      x = y;
    }
    stack.finalNorm?.forward(x, x);
    return x;
  } catch (e) {
    x.dispose();
    throw e;
  }
}
