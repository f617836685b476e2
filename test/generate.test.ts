/**
 * generate(): sampling determinism, greedy = argmax of the forward pass, stop tokens and strings, abort, options.
 * Runs a small real model (a golden fixture's weights) with a test tokenizer mapping id i to the character 0x30 + i.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, InvalidOptionError, TokenizerError, ValueRangeError } from "../ts/core/errors.js";
import { CausalLM, DEFAULT_MAX_LENGTH, MAX_LENGTH_LIMIT } from "../ts/generate/causal-lm.js";
import { TnnEncoder } from "../ts/models/encoder.js";
import { type GeneratedToken, type GenerateOptions, type GenerateResult } from "../ts/generate/generate-options.js";
import { generate } from "../ts/generate/generate.js";
import { loadModel } from "../ts/generate/load.js";
import { ByteTokenizer } from "../ts/generate/byte-tokenizer.js";
import { type Tokenizer, decodeViaBytes } from "../ts/generate/tokenizer.js";

/** Id i is the single character 0x30 + i ("0".."o"): printable, one byte per token, so text ↔ ids is easy to follow. */
class ShiftTokenizer implements Tokenizer {
  readonly name = "shift";
  readonly eosId: number | undefined;
  constructor(readonly vocabSize: number, eosId?: number) {
    this.eosId = eosId;
  }
  encode(text: string): Int32Array {
    return Int32Array.from([...text].map((ch) => ch.charCodeAt(0) - 0x30));
  }
  decode(ids: ArrayLike<number>): string {
    return decodeViaBytes(this, ids);
  }
  tokenBytes(id: number): Uint8Array {
    return Uint8Array.of(0x30 + id);
  }
}

let model: CausalLM;
const PROMPT = [5, 9, 2, 33, 17];

beforeAll(async () => {
  const m = await loadModel(new URL("./fixtures/lm_pre_h1_decay/model.safetensors", import.meta.url).pathname);
  if (!(m instanceof CausalLM)) throw new Error("fixture is not a causal LM");
  model = m;
  model.tokenizer = new ShiftTokenizer(model.vocabSize);
});

afterAll(() => model?.dispose());

async function collect(prompt: string | number[], options: GenerateOptions): Promise<{ items: GeneratedToken[]; ret: GenerateResult }> {
  const it = generate(model, prompt, options);
  const items: GeneratedToken[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) return { items, ret: r.value };
    items.push(r.value);
  }
}

describe("generate", () => {
  it("is greedy at temperature 0: each token is the argmax of the full forward's logits", async () => {
    const { items, ret } = await collect(PROMPT, { temperature: 0, maxNewTokens: 40 });
    expect(items).toHaveLength(40);
    expect(ret.finishReason).toBe("length");
    const seq = Int32Array.from([...PROMPT, ...items.map((t) => t.id)]);
    const logits = model.forward(seq);
    const all = logits.toArray();
    logits.dispose();
    const V = model.vocabSize;
    items.forEach((tok, i) => {
      const row = all.subarray((PROMPT.length - 1 + i) * V, (PROMPT.length + i) * V);
      let best = 0;
      for (let j = 1; j < V; j++) if (row[j]! > row[best]!) best = j;
      expect(tok.id, `token ${i}`).toBe(best);
    });
    expect(ret.text).toBe(items.map((t) => String.fromCharCode(0x30 + t.id)).join(""));
  });

  it("gives the same tokens for the same seed, in every decode mode, and other tokens for another seed", async () => {
    // A high temperature: this random model's distributions are peaked, and the seeds must have room to differ.
    const opts = { temperature: 4, topK: 30, topP: 0.99, maxNewTokens: 60 };
    const a = (await collect(PROMPT, { ...opts, seed: 123 })).ret.ids;
    const b = (await collect(PROMPT, { ...opts, seed: 123 })).ret.ids;
    const naive = (await collect(PROMPT, { ...opts, seed: 123, mode: "naive" })).ret.ids;
    const c = (await collect(PROMPT, { ...opts, seed: 124 })).ret.ids;
    expect(b).toEqual(a);
    expect(naive).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it("accepts a text prompt through the tokenizer and calls onToken with every item", async () => {
    const seen: GeneratedToken[] = [];
    const { items } = await collect("59b", { maxNewTokens: 8, seed: 1, onToken: (t) => seen.push(t) });
    expect(seen).toEqual(items);
    const fromIds = await collect([5, 9, 50], { maxNewTokens: 8, seed: 1 });
    expect(fromIds.items).toEqual(items);
  });

  it("ends at a stop token, yielding it last with no text of its own", async () => {
    const free = (await collect(PROMPT, { seed: 7, maxNewTokens: 80 })).ret.ids;
    const stopAt = 20;
    const stopId = free[stopAt]!;
    const first = free.indexOf(stopId);
    const { items, ret } = await collect(PROMPT, { seed: 7, maxNewTokens: 80, stopTokens: [stopId] });
    expect(ret.finishReason).toBe("stop");
    expect(ret.ids).toEqual(free.slice(0, first + 1));
    expect(items.at(-1)!.text).toBe("");
    expect(ret.text).toBe(free.slice(0, first).map((id) => String.fromCharCode(0x30 + id)).join(""));
  });

  it("honours stop strings that span several tokens, showing nothing of them", async () => {
    const free = await collect(PROMPT, { seed: 11, maxNewTokens: 100 });
    const text = free.ret.text!;
    const stop = text.slice(30, 34); // four tokens long
    const cut = text.indexOf(stop);
    const { items, ret } = await collect(PROMPT, { seed: 11, maxNewTokens: 100, stopStrings: [stop, "never-there"] });
    expect(ret.finishReason).toBe("stop");
    expect(ret.text).toBe(text.slice(0, cut));
    expect(items.map((t) => t.text).join("")).toBe(text.slice(0, cut));
    // The token completing the stop string is the last one generated.
    expect(ret.ids.length).toBe(cut + stop.length);
    for (const t of items) expect(t.text).not.toContain(stop);
  });

  it("stops within one step of an abort from the loop body", async () => {
    const ac = new AbortController();
    const it = generate(model, PROMPT, { seed: 3, maxNewTokens: 500, signal: ac.signal });
    let n = 0;
    for (;;) {
      const r = await it.next();
      if (r.done) {
        expect(r.value.finishReason).toBe("abort");
        break;
      }
      n++;
      if (n === 7) ac.abort();
    }
    expect(n).toBe(7);
  });

  it("stops within one step of an abort fired by a timer", async () => {
    const ac = new AbortController();
    let afterAbort = 0;
    setTimeout(() => ac.abort(), 5);
    const { ret } = await collect(PROMPT, {
      seed: 3, maxNewTokens: 4000, signal: ac.signal, onToken: () => void (ac.signal.aborted && afterAbort++),
    });
    expect(ret.finishReason).toBe("abort");
    expect(ret.ids.length).toBeLessThan(4000);
    expect(afterAbort).toBeLessThanOrEqual(1);
  });

  it("does nothing for an already aborted signal or maxNewTokens 0", async () => {
    const ac = new AbortController();
    ac.abort();
    expect((await collect(PROMPT, { signal: ac.signal })).ret).toEqual({ ids: [], text: "", finishReason: "abort" });
    expect((await collect(PROMPT, { maxNewTokens: 0 })).ret.finishReason).toBe("length");
  });

  it("rejects bad options with typed errors, before any work", () => {
    expect(() => generate(model, PROMPT, { topK: -1 })).toThrow(ValueRangeError);
    expect(() => generate(model, PROMPT, { temperature: Number.NaN })).toThrow(ValueRangeError);
    expect(() => generate(model, PROMPT, { topP: 2 })).toThrow(ValueRangeError);
    expect(() => generate(model, PROMPT, { seed: 1.5 })).toThrow(ValueRangeError);
    expect(() => generate(model, PROMPT, { maxNewTokens: -1 })).toThrow(ValueRangeError);
    expect(() => generate(model, PROMPT, { maxNewTokens: model.maxLength - PROMPT.length + 1 })).toThrow(ValueRangeError);
    expect(() => generate(model, PROMPT, { maxNewTokens: model.maxLength - PROMPT.length })).not.toThrow();
    expect(() => generate(model, PROMPT, { max_tokens: 3 } as never)).toThrow(InvalidOptionError);
    expect(() => generate(model, PROMPT, { mode: "fast" as never })).toThrow(InvalidOptionError);
    expect(() => generate(model, PROMPT, { stopStrings: [""] })).toThrow(InvalidOptionError);
    expect(() => generate(model, PROMPT, { stopTokens: [model.vocabSize] })).toThrow(ValueRangeError);
    expect(() => generate(model, PROMPT, { signal: {} as never })).toThrow(InvalidOptionError);
    expect(() => generate(model, [], {})).toThrow(ValueRangeError);
    expect(() => generate(model, [0, 64], {})).toThrow(ValueRangeError);
    expect(() => generate(model, [0, 1.5], {})).toThrow(ValueRangeError);
  });

  it("respects a lowered maxLength and needs a tokenizer for text prompts", () => {
    const saved = model.tokenizer;
    const savedLength = model.maxLength;
    model.maxLength = 20;
    try {
      expect(() => generate(model, PROMPT, { maxNewTokens: 16 })).toThrow(ValueRangeError);
      model.tokenizer = undefined;
      expect(() => generate(model, "abc", {})).toThrow(TokenizerError);
    } finally {
      model.maxLength = savedLength;
      model.tokenizer = saved;
    }
    expect(() => (model.maxLength = 0)).toThrow(ValueRangeError);
  });
});

describe("loadModel (generate layer)", () => {
  const fixture = (name: string): string => new URL(`./fixtures/${name}/model.safetensors`, import.meta.url).pathname;

  it("returns the kind asked for (a CausalLM by default) and refuses weights of the other kind", async () => {
    const enc = await loadModel(fixture("enc_post_h1_decay"), { kind: "encoder" });
    const auto = await loadModel(fixture("enc_post_h1_decay"), { kind: "auto" });
    const lm = await loadModel(fixture("lm_pre_h1_decay"), { kind: "auto" });
    try {
      expect(enc).toBeInstanceOf(TnnEncoder);
      expect(auto).toBeInstanceOf(TnnEncoder);
      expect(lm).toBeInstanceOf(CausalLM);
    } finally {
      for (const m of [enc, auto, lm]) m.dispose();
    }
    await expect(loadModel(fixture("enc_post_h1_decay"))).rejects.toThrow(/kind: "encoder"/);
    await expect(loadModel(fixture("lm_pre_h1_decay"), { kind: "encoder" })).rejects.toThrow(ConfigError);
    await expect(loadModel(fixture("lm_pre_h1_decay"), { kind: "decoder" as never })).rejects.toThrow(InvalidOptionError);
  });

  it("picks or checks the tokenizer against the vocabulary", async () => {
    const none = await loadModel(fixture("lm_pre_h1_decay"));
    expect(none.tokenizer).toBeUndefined(); // 64 tokens: neither bytes nor GPT-2
    none.dispose();
    await expect(loadModel(fixture("lm_pre_h1_decay"), { tokenizer: "gpt2" })).rejects.toThrow(TokenizerError);
    await expect(loadModel(fixture("lm_pre_h1_decay"), { tokenizer: "byte" })).rejects.toThrow(TokenizerError);
    // A dictionary of 60 symbols fits a 64-token model.
    const dict = Array.from({ length: 56 }, (_, i) => `${i + 100} 1`).join("\n");
    const withDict = await loadModel(fixture("lm_pre_h1_decay"), { dictionary: dict, maxLength: 1000 });
    expect(withDict.tokenizer?.name).toBe("gpt2-fairseq");
    expect(withDict.tokenizer?.vocabSize).toBe(60);
    expect(withDict.maxLength).toBe(1000);
    withDict.dispose();
    const own = new ByteTokenizer(64);
    const custom = await loadModel(fixture("lm_pre_h1_decay"), { tokenizer: own });
    expect(custom.tokenizer).toBe(own);
    custom.dispose();
    await expect(loadModel(fixture("lm_pre_h1_decay"), { causalLMClass: CausalLM } as never)).rejects.toThrow(InvalidOptionError);
    await expect(loadModel(fixture("lm_pre_h1_decay"), { tokenizer: "bpe" as never })).rejects.toThrow(InvalidOptionError);
    await expect(loadModel(fixture("lm_pre_h1_decay"), { maxLength: 0 })).rejects.toThrow(ValueRangeError);
  });

  it("lets a model whose every kernel decays generate without a length limit of its own, and keeps one otherwise", async () => {
    const decayed = await loadModel(fixture("lm_pre_h1_decay"));
    const flat = await loadModel(fixture("lm_pre_h1_nodecay_n1024"));
    try {
      expect(decayed.maxLength).toBe(MAX_LENGTH_LIMIT);
      expect(flat.maxLength).toBe(DEFAULT_MAX_LENGTH);
      expect(() => generate(flat, [1, 2], { maxNewTokens: DEFAULT_MAX_LENGTH })).toThrow(ValueRangeError);
      expect(() => generate(decayed, [1, 2], { maxNewTokens: 1_000_000 })).not.toThrow();
    } finally {
      decayed.dispose();
      flat.dispose();
    }
  });
});
