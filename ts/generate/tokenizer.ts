/**
 * What every tokenizer offers, and streaming detokenisation on top of it.
 * @module
 */
import { TokenizerError, ValueRangeError } from "../core/errors.js";
import { Utf8Stream } from "./utf8-stream.js";

/** Maps text to model token ids and back. */
export interface Tokenizer {
  /** Short name: `"byte"`, `"gpt2"` or `"gpt2-fairseq"`. */
  readonly name: string;
  /** Number of ids this tokenizer can produce or read: ids are `0 .. vocabSize-1`. */
  readonly vocabSize: number;
  /** The id that marks the end of a text, if the vocabulary has one. */
  readonly eosId: number | undefined;
  /**
   * Ids a text prompt starts with, as the model saw them at the start of what it was trained to continue: fairseq
   * LMs are prompted with `</s>` first. None when absent.
   */
  readonly promptPrefix?: readonly number[];
  /** Text to model ids. */
  encode(text: string): Int32Array;
  /** Model ids to text (invalid UTF-8 becomes U+FFFD). */
  decode(ids: ArrayLike<number>): string;
  /** The bytes one id stands for (UTF-8 text, possibly part of a character). Empty for ids with no text. */
  tokenBytes(id: number): Uint8Array;
}

/** Checks that every id is an integer in `[0, vocabSize)`. */
export function checkIds(ids: ArrayLike<number>, vocabSize: number, where: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new ValueRangeError(`${where}: token id ${id} at position ${i} is outside [0, ${vocabSize})`);
    }
  }
}

/** Decodes ids through `tokenBytes` and one UTF-8 decoder; the shared `decode` of byte-based tokenizers. */
export function decodeViaBytes(tok: Tokenizer, ids: ArrayLike<number>): string {
  if (ids === null || typeof ids !== "object" || typeof ids.length !== "number") {
    throw new TokenizerError(`${tok.name} decode: expected an array of token ids, got ${ids === null ? "null" : typeof ids}`);
  }
  checkIds(ids, tok.vocabSize, `${tok.name} decode`);
  const s = new Utf8Stream();
  let out = "";
  for (let i = 0; i < ids.length; i++) out += s.push(tok.tokenBytes(ids[i]!));
  return out + s.flush();
}

/**
 * Text of a token stream, one token at a time: each `push` returns only whole characters, holding back the bytes of
 * a character whose remaining bytes are in later tokens.
 */
export class TokenTextStream {
  readonly #tok: Tokenizer;
  readonly #utf8 = new Utf8Stream();

  constructor(tokenizer: Tokenizer) {
    this.#tok = tokenizer;
  }

  /** Text completed by token `id` (may be empty). */
  push(id: number): string {
    checkIds([id], this.#tok.vocabSize, `${this.#tok.name} stream`);
    return this.#utf8.push(this.#tok.tokenBytes(id));
  }

  /** Ends the stream; returns U+FFFD for a character left unfinished. */
  flush(): string {
    return this.#utf8.flush();
  }
}
