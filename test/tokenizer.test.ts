import { describe, expect, it } from "vitest";
import { TokenizerError, ValueRangeError } from "../ts/core/errors.js";
import { ByteTokenizer } from "../ts/generate/byte-tokenizer.js";
import { FairseqDictionary } from "../ts/generate/fairseq-dictionary.js";
import { type GenerativeModel, promptIds } from "../ts/generate/generate.js";
import { GPT2_EOS_ID, Gpt2Tokenizer } from "../ts/generate/gpt2-tokenizer.js";
import { TokenTextStream, type Tokenizer } from "../ts/generate/tokenizer.js";

const SAMPLES = ["Hello world", "In the beginning God created the heaven and the earth.", "naïve café — 日本語 😀 ok", "", "  two  spaces\n\nand lines\n"];

/** Streams ids one at a time and checks no piece ever contains a broken character. */
function streamed(tok: Tokenizer, ids: ArrayLike<number>): string {
  const s = new TokenTextStream(tok);
  let out = "";
  for (let i = 0; i < ids.length; i++) {
    const piece = s.push(ids[i]!);
    expect(piece).not.toContain("\uFFFD");
    out += piece;
  }
  return out + s.flush();
}

describe("ByteTokenizer", () => {
  const tok = new ByteTokenizer();

  it("maps text to its UTF-8 bytes and back", () => {
    for (const text of SAMPLES) {
      const ids = tok.encode(text);
      expect(Array.from(ids)).toEqual(Array.from(Buffer.from(text, "utf8")));
      expect(tok.decode(ids)).toBe(text);
      expect(streamed(tok, ids)).toBe(text);
    }
  });

  it("holds back a multi-byte character until its last byte arrives", () => {
    const s = new TokenTextStream(tok);
    // "é" = C3 A9, "😀" = F0 9F 98 80
    expect(s.push(0xc3)).toBe("");
    expect(s.push(0xa9)).toBe("é");
    expect(s.push(0xf0) + s.push(0x9f) + s.push(0x98)).toBe("");
    expect(s.push(0x80)).toBe("😀");
    expect(s.push(0xe6)).toBe("");
    expect(s.flush()).toBe("\uFFFD");
  });

  it("rejects ids outside the vocabulary", () => {
    expect(() => tok.decode([256])).toThrow(ValueRangeError);
    expect(() => tok.decode([-1])).toThrow(ValueRangeError);
    expect(() => new TokenTextStream(tok).push(1.5)).toThrow(ValueRangeError);
  });
});

describe("Gpt2Tokenizer", () => {
  it("encodes to GPT-2's own ids", async () => {
    const tok = await Gpt2Tokenizer.load();
    // Known GPT-2 ids (from OpenAI's encoder.json / HF gpt2 tokenizer).
    expect(Array.from(tok.encode("Hello world"))).toEqual([15496, 995]);
    expect(Array.from(tok.encode(" the"))).toEqual([262]);
    expect(Array.from(tok.encode("\n"))).toEqual([198]);
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosId).toBe(GPT2_EOS_ID);
  });

  it("round-trips text, also when streamed token by token", async () => {
    const tok = await Gpt2Tokenizer.load();
    for (const text of SAMPLES) {
      const ids = tok.encode(text);
      expect(tok.decode(ids)).toBe(text);
      expect(streamed(tok, ids)).toBe(text);
    }
    // Special-token spelling in user text stays text.
    const ids = tok.encode("a <|endoftext|> b");
    expect(Array.from(ids)).not.toContain(GPT2_EOS_ID);
    expect(tok.decode(ids)).toBe("a <|endoftext|> b");
  });

  it("maps through a fairseq dictionary (specials at 0..3, entries from 4)", async () => {
    // A small dict.txt listing GPT-2 ids in frequency order, as fairseq writes it.
    const dictTxt = "995 120\n15496 80\n13 50\n262 10\nmadeupword0000 0\n";
    const tok = await Gpt2Tokenizer.load({ dictionary: dictTxt });
    expect(tok.vocabSize).toBe(9);
    expect(tok.eosId).toBeUndefined(); // </s> ends lines here, not texts
    expect(Array.from(tok.encode("Hello world"))).toEqual([5, 4]);
    // A newline is </s>, as in fairseq's line-per-sample data; GPT-2 ids not in the dictionary become <unk>.
    expect(Array.from(tok.encode("Hello world.\n the"))).toEqual([5, 4, 6, 2, 7]);
    expect(Array.from(tok.encode("zebra"))).toEqual(Array(tok.encode("zebra").length).fill(3));
    expect(tok.decode([5, 4, 6, 2, 7])).toBe("Hello world.\n the");
    expect(tok.decode([0, 1, 3, 8])).toBe("");
    expect(() => tok.decode([9])).toThrow(ValueRangeError);
    // fairseq prompts its LMs with </s> first; a text prompt gets it, ids are taken as given.
    expect(tok.promptPrefix).toEqual([2]);
    const model = { tokenizer: tok, vocabSize: 9 } as unknown as GenerativeModel;
    expect(Array.from(promptIds(model, "Hello world", "test"))).toEqual([2, 5, 4]);
    expect(Array.from(promptIds(model, [5, 4], "test"))).toEqual([5, 4]);
    expect((await Gpt2Tokenizer.load()).promptPrefix).toEqual([]);
  });

  it("reads dict.txt from bytes and reports malformed lines", async () => {
    const d = FairseqDictionary.parse(new TextEncoder().encode("262 5\r\n11 4 #fairseq:overwrite\n"));
    expect(d.symbols).toEqual(["<s>", "<pad>", "</s>", "<unk>", "262", "11"]);
    expect(d.index("11")).toBe(5);
    expect(d.index("nope")).toBe(3);
    expect(() => FairseqDictionary.parse("262 5\n11\n")).toThrow(/line 2/);
    expect(() => FairseqDictionary.parse("262 five\n")).toThrow(TokenizerError);
    expect(() => FairseqDictionary.parse("\n")).toThrow(TokenizerError);
    await expect(Gpt2Tokenizer.load({ dictionary: "99999 1\n" })).rejects.toThrow(TokenizerError);
  });
});
