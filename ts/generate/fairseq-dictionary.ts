/**
 * fairseq's `dict.txt`: the table between the symbols the data was written in (for GPT-2 BPE, the BPE ids as
 * decimal strings) and the model's own ids.
 * @module
 */
import { TokenizerError } from "../core/errors.js";

/** The four symbols fairseq puts in front of every dictionary, at ids 0..3. */
export const FAIRSEQ_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"] as const;

/**
 * A fairseq dictionary: `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3, then one symbol per line of `dict.txt`
 * (`"<symbol> <count>"`, optionally followed by `#fairseq:overwrite`) from id 4 on, in file order.
 */
export class FairseqDictionary {
  /** Symbol of each id. */
  readonly symbols: readonly string[];
  readonly #index: Map<string, number>;
  readonly bos = 0;
  readonly pad = 1;
  readonly eos = 2;
  readonly unk = 3;

  private constructor(symbols: string[]) {
    this.symbols = Object.freeze(symbols);
    this.#index = new Map();
    symbols.forEach((s, i) => {
      // fairseq keeps the first id of a symbol listed twice (the later one only with #fairseq:overwrite).
      if (!this.#index.has(s)) this.#index.set(s, i);
    });
  }

  /**
   * Parses `dict.txt` given as text or bytes (UTF-8).
   * @throws {TokenizerError} a line that is not `"<symbol> <count>"`, naming the line
   */
  static parse(source: string | Uint8Array): FairseqDictionary {
    const text = typeof source === "string" ? source : new TextDecoder("utf-8", { fatal: true }).decode(source);
    const symbols: string[] = [...FAIRSEQ_SPECIALS];
    const lines = text.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i]!.trimEnd();
      if (line === "") continue;
      if (line.endsWith(" #fairseq:overwrite")) line = line.slice(0, -" #fairseq:overwrite".length);
      const sp = line.lastIndexOf(" ");
      const count = line.slice(sp + 1);
      if (sp <= 0 || !/^\d+$/.test(count)) {
        throw new TokenizerError(`dict.txt line ${i + 1}: expected "<symbol> <count>", got ${JSON.stringify(lines[i]!.slice(0, 80))}`);
      }
      symbols.push(line.slice(0, sp));
    }
    if (symbols.length === FAIRSEQ_SPECIALS.length) throw new TokenizerError("dict.txt has no entries");
    return new FairseqDictionary(symbols);
  }

  /** Number of ids, the four specials included. */
  get size(): number {
    return this.symbols.length;
  }

  /** The id of `symbol`, or `<unk>` when it is not listed. */
  index(symbol: string): number {
    return this.#index.get(symbol) ?? this.unk;
  }
}
