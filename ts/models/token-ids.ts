/**
 * Token ids as a model's public methods take them: one sequence or a batch of equal-length sequences, checked once
 * at that boundary.
 * @module
 */
import { DTypeError, InvalidOptionError, ShapeError, ValueRangeError } from "../core/errors.js";

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
