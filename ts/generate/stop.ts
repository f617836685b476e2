/**
 * Stop conditions for generation: stop token ids, and stop strings that may straddle token boundaries.
 * @module
 */
import { InvalidOptionError, ValueRangeError } from "../core/errors.js";

/** What {@link StopMatcher.push} lets through. */
export interface StopResult {
  /** Text that can no longer be part of a stop string, safe to show. */
  readonly text: string;
  /** Whether a stop string was found; `text` then ends just before it and generation must end. */
  readonly stopped: boolean;
}

/**
 * Watches the generated text for stop strings. Text is held back while its tail could still be the start of a
 * stop string, so a stop string split over several tokens is never shown, and nothing after it either.
 */
export class StopMatcher {
  readonly stopStrings: readonly string[];
  #pending = "";
  #stopped = false;

  /** @throws {InvalidOptionError} a stop string is not a non-empty string */
  constructor(stopStrings: readonly string[] = []) {
    for (const s of stopStrings) {
      if (typeof s !== "string" || s.length === 0) throw new InvalidOptionError(`stop strings must be non-empty strings, got ${JSON.stringify(s)}`);
    }
    this.stopStrings = Object.freeze([...stopStrings]);
  }

  /** Whether a stop string has been seen. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Feeds the next piece of text; returns what may be shown now. After a stop, every push returns no text. */
  push(piece: string): StopResult {
    if (this.#stopped) return { text: "", stopped: true };
    const buf = this.#pending + piece;
    if (this.stopStrings.length === 0) return { text: buf, stopped: false };
    let first = -1;
    for (const s of this.stopStrings) {
      const at = buf.indexOf(s);
      if (at >= 0 && (first < 0 || at < first)) first = at;
    }
    if (first >= 0) {
      this.#stopped = true;
      this.#pending = "";
      return { text: buf.slice(0, first), stopped: true };
    }
    const hold = this.#longestPrefixSuffix(buf);
    this.#pending = buf.slice(buf.length - hold);
    return { text: buf.slice(0, buf.length - hold), stopped: false };
  }

  /** Ends the stream without a stop string: returns the text still held back. */
  flush(): string {
    const rest = this.#stopped ? "" : this.#pending;
    this.#pending = "";
    return rest;
  }

  /** Length of the longest suffix of `buf` that is a proper prefix of some stop string. */
  #longestPrefixSuffix(buf: string): number {
    let best = 0;
    for (const s of this.stopStrings) {
      for (let len = Math.min(s.length - 1, buf.length); len > best; len--) {
        if (buf.endsWith(s.slice(0, len))) {
          best = len;
          break;
        }
      }
    }
    return best;
  }
}

/** Checks a list of stop token ids against the vocabulary size. */
export function checkStopTokens(ids: unknown, vocabSize: number, where: string): readonly number[] {
  if (!Array.isArray(ids) && !(ids instanceof Int32Array)) throw new InvalidOptionError(`${where}: stopTokens must be an array of token ids`);
  const out: number[] = [];
  for (const id of ids as ArrayLike<unknown> as number[]) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new ValueRangeError(`${where}: stop token ${String(id)} is outside [0, ${vocabSize})`);
    }
    out.push(id);
  }
  return out;
}
