/**
 * GPT-2's byte-level BPE (the `r50k_base` vocabulary shipped inside npm `gpt-tokenizer`, no network), optionally
 * through a fairseq dictionary, which is how the official TNN checkpoints number their tokens.
 * @module
 */
import { TokenizerError } from "../core/errors.js";
import { FairseqDictionary } from "./fairseq-dictionary.js";
import { type Tokenizer, checkIds, decodeViaBytes } from "./tokenizer.js";

/** GPT-2's vocabulary: 50,256 BPE tokens plus `<|endoftext|>`. */
export const GPT2_VOCAB_SIZE = 50257;
/** GPT-2's `<|endoftext|>` id. */
export const GPT2_EOS_ID = 50256;

interface R50k {
  encode(text: string, options?: { disallowedSpecial?: Set<string> }): number[];
}

const EMPTY = new Uint8Array(0);
const NEWLINE = Uint8Array.of(10);

/** The BPE encoder and the bytes of every BPE id, loaded once per realm. */
let shared: Promise<{ bpe: R50k; bytes: Uint8Array[] }> | undefined;

function loadShared(): Promise<{ bpe: R50k; bytes: Uint8Array[] }> {
  shared ??= (async () => {
    const [bpe, ranks] = await Promise.all([
      import("gpt-tokenizer/encoding/r50k_base") as Promise<R50k>,
      import("gpt-tokenizer/bpeRanks/r50k_base") as Promise<{ default: (string | number[])[] }>,
    ]);
    // Each entry is the token's text when it is valid UTF-8 on its own, else its raw bytes (part of a character).
    const enc = new TextEncoder();
    const bytes = ranks.default.map((e) => (typeof e === "string" ? enc.encode(e) : Uint8Array.from(e)));
    bytes.push(EMPTY); // <|endoftext|> is a control token: it stands for no text
    if (bytes.length !== GPT2_VOCAB_SIZE) throw new TokenizerError(`gpt-tokenizer's r50k_base has ${bytes.length} ids, expected ${GPT2_VOCAB_SIZE}`);
    return { bpe, bytes };
  })();
  return shared;
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
   * Loads the GPT-2 vocabulary (bundled with the package) and, when given, a fairseq `dict.txt` as text or bytes.
   * @throws {TokenizerError} a malformed dictionary
   */
  static async load(options: { dictionary?: string | Uint8Array | FairseqDictionary } = {}): Promise<Gpt2Tokenizer> {
    const { bpe, bytes } = await loadShared();
    const d = options.dictionary;
    const dict = d === undefined ? undefined : d instanceof FairseqDictionary ? d : FairseqDictionary.parse(d);
    return new Gpt2Tokenizer(bpe, bytes, dict);
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
