/**
 * The tokenizer of the project's own byte-level models: id = byte value.
 * @module
 */
import { TokenizerError } from "../core/errors.js";
import { type Tokenizer, checkIds, decodeViaBytes } from "./tokenizer.js";

const BYTES = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
const EMPTY = new Uint8Array(0);

/**
 * Ids 0..255 are the bytes of the UTF-8 text. The shipped models (tools/train.py) have exactly 256 ids and no special
 * tokens; a model with a larger vocabulary may use ids past 255, which stand for no text.
 */
export class ByteTokenizer implements Tokenizer {
  readonly name = "byte";
  readonly vocabSize: number;
  readonly eosId: number | undefined;
  readonly #encoder = new TextEncoder();

  /** @param vocabSize the model's vocabulary (default 256); @param eosId an end-of-text id past 255, if any */
  constructor(vocabSize = 256, eosId?: number) {
    this.vocabSize = vocabSize;
    this.eosId = eosId;
  }

  /** @throws {TokenizerError} `text` is not a string */
  encode(text: string): Int32Array {
    if (typeof text !== "string") throw new TokenizerError(`byte encode: expected a string, got ${text === null ? "null" : typeof text}`);
    return Int32Array.from(this.#encoder.encode(text));
  }

  decode(ids: ArrayLike<number>): string {
    return decodeViaBytes(this, ids);
  }

  tokenBytes(id: number): Uint8Array {
    checkIds([id], this.vocabSize, "byte tokenBytes");
    return id < 256 ? BYTES[id]! : EMPTY;
  }
}
