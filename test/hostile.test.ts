// Hostile and careless input through the public API: each case the library once got wrong, then property-based
// runs (fast-check) over files, sources, configs, tokenizers, ids and generate options. Every call must settle, every
// failure must be a TnnError subclass, and a refused call must leave wasm memory where it was.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tnn from "../ts/index.js";
import {
  ConfigError, OutOfMemoryError, TokenizerError, WeightsFormatError, WeightsMismatchError, init, memoryBytes,
} from "../ts/core/index.js";
import { ByteTokenizer } from "../ts/generate/byte-tokenizer.js";
import { Gpt2Tokenizer } from "../ts/generate/gpt2-tokenizer.js";
import { type CausalLM } from "../ts/generate/causal-lm.js";
import { loadModel } from "../ts/generate/load.js";
import { configFromJSON } from "../ts/models/config.js";
import { config, decoderUse, driveDecoder, generateOptions, ids, keepsContract, notText, outcome, safetensorsFile, source } from "./fuzz/cases.mjs";
import { errorOf } from "./helpers/error-of.js";
import { editHeader } from "./helpers/safetensors-writer.js";

const FILE = new Uint8Array(readFileSync(new URL("./fixtures/official/tnn_v2_decay_99_pre/model.safetensors", import.meta.url)));
let model: CausalLM;

beforeAll(async () => {
  await init();
  model = await loadModel(FILE, { tokenizer: "none" });
});
afterAll(() => model?.dispose());

/** A header naming tensors it does not hold: the shape of `name` replaced, the data left as it is. */
function claiming(name: string, dims: number[]): Uint8Array {
  return editHeader(FILE, (header) => {
    const bytes = dims.reduce((a, b) => a * b, 4);
    const entry = header[name];
    const shift = bytes - (entry.data_offsets[1] - entry.data_offsets[0]);
    for (const v of Object.values(header) as { data_offsets?: number[] }[]) {
      if (v.data_offsets && v.data_offsets[0]! > entry.data_offsets[0]) v.data_offsets = v.data_offsets.map((o) => o + shift);
    }
    entry.shape = dims;
    entry.data_offsets = [entry.data_offsets[0], entry.data_offsets[0] + bytes];
  });
}

/** A stream over `bytes` in 1 KB chunks. */
const streamOf = (bytes: Uint8Array): ReadableStream<Uint8Array> => {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + 1024));
      at += 1024;
    },
  });
};

describe("cases that once escaped as untyped errors, traps or hangs", () => {
  it("a header claiming a 5 GB RPE or decay, from bytes or a stream: a typed error, and no memory grown", async () => {
    const before = memoryBytes();
    for (const [name, dims] of [
      ["decoder.layers.0.self_attn.gtu.toep.gamma", [1, 1, 1_250_000_000]],
      ["decoder.layers.0.self_attn.gtu.toep.rpe.pos_proj.weight", [1_250_000_000, 1]],
    ] as const) {
      const file = claiming(name, [...dims]);
      for (const src of [file, streamOf(file)]) {
        const e = await errorOf(loadModel(src));
        expect(e, `${name}`).toBeInstanceOf(tnn.TnnError);
        expect([WeightsFormatError, WeightsMismatchError, OutOfMemoryError, ConfigError].some((C) => e instanceof C)).toBe(true);
      }
    }
    expect(memoryBytes()).toBe(before);
  });

  it("a stream errored with null, undefined or a string reason", async () => {
    for (const reason of [null, undefined, "reset", 42]) {
      const s = new ReadableStream({ pull: (c) => c.error(reason) });
      const e = await errorOf(loadModel(s));
      expect(e).toBeInstanceOf(WeightsFormatError);
      expect((e as Error).message).toMatch(/the stream failed/);
    }
  });

  it("a locked ReadableStream, and a Response whose body is locked", async () => {
    const s = streamOf(FILE);
    s.getReader();
    expect(await errorOf(loadModel(s))).toBeInstanceOf(WeightsFormatError);
    const r = new Response(streamOf(FILE));
    r.body!.getReader();
    const e = await errorOf(loadModel(r));
    expect(e).toBeInstanceOf(WeightsFormatError);
    expect((e as Error).message).toMatch(/locked/);
  });

  it("a detached ArrayBuffer", async () => {
    const b = FILE.slice().buffer;
    structuredClone(b, { transfer: [b] });
    const e = await errorOf(loadModel(b));
    expect(e).toBeInstanceOf(WeightsFormatError);
    expect((e as Error).message).toMatch(/detached/);
  });

  it("a forward of a million tokens that cannot fit is refused up front, leaving memory where it was", async () => {
    const shipped = await loadModel(new URL("../models/kjv-byte/model.safetensors", import.meta.url).pathname);
    const before = memoryBytes();
    for (const n of [1_000_000, 2_000_000]) {
      const e = (() => {
        try {
          shipped.forward(new Int32Array(n));
        } catch (err) {
          return err;
        } finally {
          if (n === 2_000_000) shipped.dispose();
        }
      })();
      expect(e).toBeInstanceOf(OutOfMemoryError);
      expect((e as Error).message).toMatch(/needs about [\d.]+ MiB/);
    }
    expect(memoryBytes()).toBe(before);
  });

  it("a 2.6 KB file claiming a [131072, 2048] float32 embedding is refused before memory grows, in any dtype", async () => {
    const n = Number(new DataView(FILE.buffer, FILE.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(FILE.subarray(8, 8 + n)));
    header["decoder.embed_tokens.weight"].shape = [131072, 2048];
    header["decoder.embed_tokens.weight"].data_offsets = [0, 131072 * 2048 * 4];
    const text = new TextEncoder().encode(JSON.stringify({ "decoder.embed_tokens.weight": header["decoder.embed_tokens.weight"] }));
    const file = new Uint8Array(8 + text.length + 2000);
    new DataView(file.buffer).setBigUint64(0, BigInt(text.length), true);
    file.set(text, 8);
    const before = memoryBytes();
    for (const dtype of ["float32", "float16", "int8"] as const) {
      for (const src of [file, streamOf(file)]) expect(await errorOf(loadModel(src, { dtype }))).toBeInstanceOf(tnn.TnnError);
    }
    expect(memoryBytes()).toBe(before);
  });

  it("a byte stream whose pull closes without answering the BYOB request settles", async () => {
    let at = 0;
    const s = new ReadableStream({
      type: "bytes",
      pull(c) {
        if (at >= FILE.length) return c.close(); // no byobRequest.respond(0)
        c.enqueue(FILE.slice(at, at + 4096));
        at += 4096;
      },
    });
    const m = await loadModel(s, { tokenizer: "none" });
    expect(m.vocabSize).toBe(model.vocabSize);
    m.dispose();
  });

  it("tokenizers check their input: numbers, null and objects are not text; null is not ids", async () => {
    const byte = new ByteTokenizer();
    const gpt2 = await Gpt2Tokenizer.load();
    for (const tok of [byte, gpt2]) {
      for (const bad of [123, null, undefined, {}, ["a"]]) expect(() => tok.encode(bad as never)).toThrow(TokenizerError);
      expect(() => tok.decode(null as never)).toThrow(TokenizerError);
    }
  });

  it("NaN and infinite weights are refused at load in every dtype", async () => {
    const n = Number(new DataView(FILE.buffer, FILE.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(FILE.subarray(8, 8 + n)));
    const at = 8 + n + header["decoder.layers.1.glu.l2.weight"].data_offsets[0] + 4 * 7;
    for (const value of [NaN, Infinity, -Infinity]) {
      const bad = FILE.slice();
      new DataView(bad.buffer).setFloat32(at, value, true);
      for (const dtype of ["float32", "float16", "int8"] as const) {
        const e = await errorOf(loadModel(bad, { dtype }));
        expect(e).toBeInstanceOf(WeightsFormatError);
        expect((e as Error).message).toMatch(/glu\.l2\.weight" holds (NaN|-?Infinity) at element 7/);
      }
    }
  });
});

// Property-based runs: a few hundred cases per property here; benches/fuzz.mjs runs tens of thousands.
const RUNS = { numRuns: 300, seed: 20261204 };

describe("properties", () => {
  it("any mutated model file loads or fails with a TnnError", async () => {
    await fc.assert(fc.asyncProperty(safetensorsFile(FILE), async (file) => {
      const o = await outcome(tnn, async () => (await loadModel(file, { kind: "auto" })).dispose());
      return keepsContract(o) || (console.error(o), false);
    }), RUNS);
  });

  it("any source of a valid file (chunked, failing, locked, detached, BYOB) loads the same model or fails typed", async () => {
    const want = model.forward([5, 6, 7], { lastOnly: true });
    const expected = want.toArray();
    want.dispose();
    await fc.assert(fc.asyncProperty(source(FILE), async (make) => {
      const o = await outcome(tnn, async () => {
        const m = await loadModel(make() as never, { tokenizer: "none" });
        try {
          using got = m.forward([5, 6, 7], { lastOnly: true });
          if (got.toArray().some((v, i) => v !== expected[i])) throw new Error("a source gave another model");
        } finally {
          m.dispose();
        }
      });
      return keepsContract(o) || (console.error(o), false);
    }), { ...RUNS, numRuns: 200 });
  });

  it("any config value is parsed or refused with a ConfigError", () => {
    fc.assert(fc.property(config, (c) => {
      try {
        configFromJSON(c as never);
        return true;
      } catch (e) {
        return e instanceof ConfigError;
      }
    }), { ...RUNS, numRuns: 1000 });
  });

  it("any config given to loadModel loads or fails typed", async () => {
    await fc.assert(fc.asyncProperty(config, async (c) => {
      const o = await outcome(tnn, async () => (await loadModel(FILE, { config: c as never, kind: "auto" })).dispose());
      return keepsContract(o) || (console.error(o), false);
    }), RUNS);
  });

  it("the byte and GPT-2 tokenizers round-trip any Unicode text; non-text input is a TokenizerError", async () => {
    const byte = new ByteTokenizer();
    const gpt2 = await Gpt2Tokenizer.load();
    fc.assert(fc.property(fc.string({ unit: "grapheme" }), (s) => byte.decode(byte.encode(s)) === s && gpt2.decode(gpt2.encode(s)) === s), { ...RUNS, numRuns: 1000 });
    fc.assert(fc.property(notText, (x) => {
      try {
        byte.encode(x as never);
        return false;
      } catch (e) {
        return e instanceof TokenizerError;
      }
    }), RUNS);
  });

  it("any ids to forward give logits or a TnnError", () => {
    fc.assert(fc.property(ids(model.vocabSize), (x) => {
      try {
        model.forward(x as never).dispose();
        return true;
      } catch (e) {
        return e instanceof tnn.TnnError;
      }
    }), { ...RUNS, numRuns: 500 });
  });

  it("any decoder options and calls decode or fail typed, and settle", async () => {
    await fc.assert(fc.asyncProperty(decoderUse(model.vocabSize), async (use) => {
      const o = await outcome(tnn, async () => driveDecoder(model, use));
      return keepsContract(o) || (console.error(o, JSON.stringify(use.options)), false);
    }), RUNS);
  });

  it("any generate options generate or fail typed, and settle", async () => {
    await fc.assert(fc.asyncProperty(generateOptions, async (opts) => {
      const o = await outcome(tnn, async () => {
        for await (const _ of model.generate([5, 6, 7], opts as never)) void _;
      });
      return keepsContract(o) || (console.error(o), false);
    }), RUNS);
  });
});
