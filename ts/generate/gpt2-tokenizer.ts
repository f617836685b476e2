/**
 * GPT-2's byte-level BPE (the `r50k_base` vocabulary shipped inside npm `gpt-tokenizer`, no network), optionally
 * through a fairseq dictionary, which is how the official TNN checkpoints number their tokens.
 *
 * The vocabulary is about 1 MB of JavaScript, so nothing imports it until a model needs it. In Node, Deno and Bun
 * (dist/index.js) {@link Gpt2Tokenizer.load} imports it dynamically. The browser/Worker build (dist/browser.js) has
 * no such import (rollup.config.mjs replaces it with a {@link TokenizerError}), because a Worker bundler inlines
 * every dynamic import and a byte-level Worker would carry the megabyte; there the tokenizer comes from the package's
 * `tnn/gpt2` entry (ts/gpt2.ts), which imports the vocabulary statically and passes it to {@link loadGpt2TokenizerWith}.
 * @module
 */
import { InvalidOptionError, TokenizerError } from "../core/errors.js";
import { FairseqDictionary } from "./fairseq-dictionary.js";
import { type Tokenizer, checkIds, decodeViaBytes } from "./tokenizer.js";

/** GPT-2's vocabulary: 50,256 BPE tokens plus `<|endoftext|>`. */
export const GPT2_VOCAB_SIZE = 50257;
/** GPT-2's `<|endoftext|>` id. */
export const GPT2_EOS_ID = 50256;

interface R50k {
  encode(text: string, options?: { disallowedSpecial?: Set<string> }): number[];
}

/** npm gpt-tokenizer's `r50k_base`: its encoder, and each id's text (or raw bytes, for part of a character). */
export interface Gpt2Vocabulary {
  readonly bpe: R50k;
  readonly ranks: readonly (string | number[])[];
}

/**
 * What the browser/Worker build says instead of importing the vocabulary. rollup.config.mjs puts a call to this in
 * place of each `import("gpt-tokenizer/...")` below.
 */
export function gpt2NotInWebBuild(): Promise<never> {
  return Promise.reject(new TokenizerError(
    "GPT-2's vocabulary is not part of tnn's browser/Worker build (it is 1 MB); import it from the package's " +
      '"tnn/gpt2" entry and pass the tokenizer to loadModel: import { loadGpt2Tokenizer } from "tnn/gpt2"; ' +
      "loadModel(source, { tokenizer: await loadGpt2Tokenizer({ dictionary }) }), dictionary only for a fairseq checkpoint; " +
      'or loadModel(source, { tokenizer: "none" }) to work with ids alone',
  ));
}

/** Imports the vocabulary from npm gpt-tokenizer (dist/index.js; the web build throws instead, see above). */
async function importVocabulary(): Promise<Gpt2Vocabulary> {
  const [bpe, ranks] = await Promise.all([
    import("gpt-tokenizer/encoding/r50k_base") as Promise<R50k>,
    import("gpt-tokenizer/bpeRanks/r50k_base") as Promise<{ default: (string | number[])[] }>,
  ]);
  return { bpe, ranks: ranks.default };
}

const EMPTY = new Uint8Array(0);
const NEWLINE = Uint8Array.of(10);

/** The BPE encoder and the bytes of every BPE id, built once per realm. */
let shared: Promise<{ bpe: R50k; bytes: Uint8Array[] }> | undefined;

function loadShared(source: () => Promise<Gpt2Vocabulary>): Promise<{ bpe: R50k; bytes: Uint8Array[] }> {
  shared ??= (async () => {
    const { bpe, ranks } = await source();
    // Each entry is the token's text when it is valid UTF-8 on its own, else its raw bytes (part of a character).
    const enc = new TextEncoder();
    const bytes = ranks.map((e) => (typeof e === "string" ? enc.encode(e) : Uint8Array.from(e)));
    bytes.push(EMPTY); // <|endoftext|> is a control token: it stands for no text
    if (bytes.length !== GPT2_VOCAB_SIZE) throw new TokenizerError(`gpt-tokenizer's r50k_base has ${bytes.length} ids, expected ${GPT2_VOCAB_SIZE}`);
    return { bpe, bytes };
  })();
  // A failed load (the web build's refusal, say) is not cached: the `tnn/gpt2` entry may still supply the vocabulary.
  shared.catch(() => {
    shared = undefined;
  });
  return shared;
}

/**
 * {@link Gpt2Tokenizer.load} with the vocabulary from `source`: how the `tnn/gpt2` entry builds its tokenizers.
 * @throws {InvalidOptionError} options that are not an object, or a dictionary of the wrong type
 * @throws {TokenizerError} a malformed dictionary, or a vocabulary of the wrong size
 */
export async function loadGpt2TokenizerWith(
  source: () => Promise<Gpt2Vocabulary>,
  options: { dictionary?: string | Uint8Array | FairseqDictionary } = {},
): Promise<Gpt2Tokenizer> {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("GPT-2 tokenizer: options must be an object");
  const d = options.dictionary;
  if (d !== undefined && typeof d !== "string" && !(d instanceof Uint8Array) && !(d instanceof FairseqDictionary)) {
    throw new InvalidOptionError("GPT-2 tokenizer: dictionary must be the text or bytes of dict.txt, or a FairseqDictionary");
  }
  // Parsed first, so a bad dictionary fails before the vocabulary is loaded.
  const dict = d === undefined ? undefined : d instanceof FairseqDictionary ? d : FairseqDictionary.parse(d);
  const { bpe, bytes } = await loadShared(source);
  return Gpt2Tokenizer.fromParts(bpe, bytes, dict);
}

/**
 * GPT-2 BPE. Without a dictionary, model ids are GPT-2 ids. With a fairseq dictionary (the official TNN LM), model
 * id `i` is dictionary symbol `i`, whose text is a GPT-2 id; and, as fairseq's data preparation encodes each line on
 * its own and ends it with `</s>`, a newline in the text is `</s>` (id 2) and `</s>` decodes to a newline.
 * `<s>`, `<pad>`, `<unk>` and fairseq's padding symbols stand for no text.
 */
export class Gpt2Tokenizer implements Tokenizer {
  readonly name: string;
  readonly vocabSize: number;
  /** `<|endoftext|>` without a dictionary. With one, none: fairseq's `</s>` marks line ends, not the end of a text. */
  readonly eosId: number | undefined;
  /** The fairseq dictionary in use, if any. */
  readonly dictionary: FairseqDictionary | undefined;
  /**
   * With a dictionary, `[</s>]`: fairseq's language-modeling task prepends `</s>` to every prompt it generates from
   * (`build_dataset_for_inference`, without `add_bos_token`). Without one, none.
   */
  readonly promptPrefix: readonly number[];
  readonly #bpe: R50k;
  readonly #bytes: Uint8Array[];
  /** Model id → GPT-2 id (-1: no text; -2: newline), with a dictionary. */
  readonly #toBpe: Int32Array | undefined;
  /** GPT-2 id → model id, with a dictionary. */
  readonly #fromBpe: Int32Array | undefined;

  private constructor(bpe: R50k, bytes: Uint8Array[], dictionary?: FairseqDictionary) {
    this.#bpe = bpe;
    this.#bytes = bytes;
    this.dictionary = dictionary;
    if (!dictionary) {
      this.name = "gpt2";
      this.vocabSize = GPT2_VOCAB_SIZE;
      this.eosId = GPT2_EOS_ID;
      this.promptPrefix = [];
      return;
    }
    this.name = "gpt2-fairseq";
    this.vocabSize = dictionary.size;
    this.eosId = undefined;
    this.promptPrefix = Object.freeze([dictionary.eos]);
    const toBpe = new Int32Array(dictionary.size).fill(-1);
    const fromBpe = new Int32Array(GPT2_VOCAB_SIZE).fill(dictionary.unk);
    toBpe[dictionary.eos] = -2;
    dictionary.symbols.forEach((sym, id) => {
      if (id < 4 || !/^\d+$/.test(sym)) return;
      const b = Number(sym);
      if (b >= GPT2_VOCAB_SIZE) throw new TokenizerError(`dict.txt: symbol ${sym} (id ${id}) is not a GPT-2 id (< ${GPT2_VOCAB_SIZE})`);
      toBpe[id] = b;
      if (fromBpe[b] === dictionary.unk) fromBpe[b] = id;
    });
    this.#toBpe = toBpe;
    this.#fromBpe = fromBpe;
  }

  /**
   * Loads the GPT-2 vocabulary (npm gpt-tokenizer, a dependency of the package) and, when given, a fairseq
   * `dict.txt` as text or bytes. In the browser/Worker build use `loadGpt2Tokenizer` from `tnn/gpt2` instead.
   * @throws {TokenizerError} a malformed dictionary; in the browser/Worker build, always (see the module comment)
   */
  static load(options: { dictionary?: string | Uint8Array | FairseqDictionary } = {}): Promise<Gpt2Tokenizer> {
    return loadGpt2TokenizerWith(importVocabulary, options);
  }

  /** @internal The constructor, for {@link loadGpt2TokenizerWith}. */
  static fromParts(bpe: R50k, bytes: Uint8Array[], dictionary?: FairseqDictionary): Gpt2Tokenizer {
    return new Gpt2Tokenizer(bpe, bytes, dictionary);
  }

  encode(text: string): Int32Array {
    if (typeof text !== "string") throw new TokenizerError(`${this.name} encode: expected a string, got ${typeof text}`);
    // Special-token spellings in user text are plain text, never control tokens.
    const opts = { disallowedSpecial: new Set<string>() };
    const from = this.#fromBpe;
    const dictionary = this.dictionary;
    if (!from || !dictionary) return Int32Array.from(this.#bpe.encode(text, opts));
    const out: number[] = [];
    const lines = text.split("\n");
    lines.forEach((line, i) => {
      if (line !== "") for (const b of this.#bpe.encode(line, opts)) out.push(from[b]!);
      if (i < lines.length - 1) out.push(dictionary.eos);
    });
    return Int32Array.from(out);
  }

  decode(ids: ArrayLike<number>): string {
    return decodeViaBytes(this, ids);
  }

  tokenBytes(id: number): Uint8Array {
    checkIds([id], this.vocabSize, `${this.name} tokenBytes`);
    const to = this.#toBpe;
    if (!to) return this.#bytes[id]!;
    const b = to[id]!;
    return b >= 0 ? this.#bytes[b]! : b === -2 ? NEWLINE : EMPTY;
  }
}
