// Whole models on random official-named weights against the float64 reference; configs, weight binding and bad input.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ConfigError, DTypeError, DisposedError, InvalidOptionError, ShapeError, ValueRangeError, WeightsFormatError, WeightsMismatchError, init,
  memoryBytes,
} from "../ts/core/index.js";
import { TnnEncoder, TnnForCausalLM, configFromJSON, inferConfig, parseSafetensors } from "../ts/models/index.js";
import { loadModel } from "../ts/generate/load.js";
import { type Embedding } from "../ts/nn/index.js";
import { classify64, encoderConfig, lmConfig, logits64, randomStateDict } from "./helpers/random-state-dict.js";
import { maxDiff } from "./helpers/reference64.js";
import { errorOf } from "./helpers/error-of.js";
import { writeSafetensors } from "./helpers/safetensors-writer.js";

beforeAll(async () => {
  await init();
});

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel = 1e-4): void {
  const { diff, scale } = maxDiff(got, want);
  expect(scale).toBeGreaterThan(0);
  expect(diff, `max |Δ| ${diff} vs max |ref| ${scale}`).toBeLessThanOrEqual(rel * scale);
}

const ids = (n: number, V: number, seed: number): number[] => Array.from({ length: n }, (_, i) => (i * 7 + seed * 13 + ((i * i) % 5)) % V);


describe("TnnForCausalLM", () => {
  const cfg = lmConfig({ n_heads: 2 });
  const W = randomStateDict(cfg, 1);
  const file = writeSafetensors(W);

  it("gives the reference logits for one sequence, a batch, and the last position only", async () => {
    const model = await loadModel(file, { config: cfg });
    expect(model).toBeInstanceOf(TnnForCausalLM);
    const a = ids(37, cfg.vocab_size, 1);
    const b = ids(37, cfg.vocab_size, 2);
    const ra = logits64(W, cfg, a);
    const rb = logits64(W, cfg, b);
    const one = model.forward(Int32Array.from(a));
    expect(one.dims).toEqual([37, cfg.vocab_size]);
    expectClose(one.toArray(), ra);
    one.dispose();
    const batch = model.forward([a, b]);
    expect(batch.dims).toEqual([2, 37, cfg.vocab_size]);
    const both = new Float64Array([...ra, ...rb]);
    expectClose(batch.toArray(), both);
    batch.dispose();
    const last = model.forward([a, b], { lastOnly: true });
    expect(last.dims).toEqual([2, 1, cfg.vocab_size]);
    const V = cfg.vocab_size;
    expectClose(last.toArray(), new Float64Array([...ra.subarray(36 * V), ...rb.subarray(36 * V)]));
    last.dispose();
    const last1 = model.forward(a, { lastOnly: true });
    expect(last1.dims).toEqual([1, V]);
    last1.dispose();
    model.dispose();
    expect(() => model.forward(a)).toThrow(DisposedError);
  });

  it("post-norm, no decay, float16 storage of F32 weights stays close to the reference", async () => {
    const c = lmConfig({ prenorm: false, final_norm: null, gamma: null });
    const w = randomStateDict(c, 2);
    const a = ids(20, c.vocab_size, 3);
    const exact = await loadModel(writeSafetensors(w), { config: c });
    const out = exact.forward(a);
    expectClose(out.toArray(), logits64(w, c, a));
    out.dispose();
    exact.dispose();
    const half = await loadModel(writeSafetensors(w), { config: c, dtype: "float16" });
    expect(((half as TnnForCausalLM).body.embed as Embedding).weight.dtype).toBe("float16");
    const h = half.forward(a);
    expectClose(h.toArray(), logits64(w, c, a), 2e-2);
    h.dispose();
    half.dispose();
  });

  it("rejects bad token ids, empty sequences and ragged batches with typed errors", async () => {
    const model = await loadModel(file, { config: cfg });
    const V = cfg.vocab_size;
    expect(() => model.forward([1, 2, V])).toThrow(ValueRangeError);
    expect(() => model.forward([1, -1])).toThrow(ValueRangeError);
    expect(() => model.forward([1, 2.5])).toThrow(ValueRangeError);
    expect(() => model.forward([1, NaN])).toThrow(ValueRangeError);
    expect(() => model.forward([1, "2" as unknown as number])).toThrow(ValueRangeError);
    expect(() => model.forward(new Int32Array([0, V + 3]))).toThrow(ValueRangeError);
    expect(() => model.forward([[1, 2], [3, V]])).toThrow(ValueRangeError);
    expect(() => model.forward([])).toThrow(ShapeError);
    expect(() => model.forward(new Int32Array(0))).toThrow(ShapeError);
    expect(() => model.forward([[1, 2], []])).toThrow(ShapeError);
    expect(() => model.forward([[1, 2, 3], [4, 5]])).toThrow(ShapeError);
    expect(() => model.forward([[1, 2], 3] as unknown as number[][])).toThrow(ShapeError);
    expect(() => model.forward("hello" as unknown as number[])).toThrow(DTypeError);
    expect(() => model.forward([1], { lastonly: true } as never)).toThrow(InvalidOptionError);
    model.dispose();
  });
});

describe("TnnEncoder", () => {
  const cfg = encoderConfig({ n_heads: 2 });
  const W = randomStateDict(cfg, 5, { classificationHeads: { sentiment: 3 } });

  it("MLM logits, features and the classification head match the reference", async () => {
    const enc = await loadModel(writeSafetensors(W), { config: cfg, kind: "encoder" });
    expect(enc).toBeInstanceOf(TnnEncoder);
    const a = ids(29, cfg.vocab_size, 4);
    const b = ids(29, cfg.vocab_size, 5);
    const out = enc.forward([a, b]);
    expectClose(out.toArray(), new Float64Array([...logits64(W, cfg, a), ...logits64(W, cfg, b)]));
    out.dispose();
    expect(enc.classificationHeads).toEqual(["sentiment"]);
    const cls = enc.classify([a, b]);
    expect(cls.dims).toEqual([2, 3]);
    expectClose(cls.toArray(), new Float64Array([...classify64(W, cfg, a, "sentiment"), ...classify64(W, cfg, b, "sentiment")]));
    cls.dispose();
    const one = enc.classify(a, { head: "sentiment" });
    expect(one.dims).toEqual([3]);
    one.dispose();
    expect(() => enc.classify(a, { head: "other" })).toThrow(InvalidOptionError);
    const f = enc.features(a);
    expect(f.dims).toEqual([29, cfg.d_model]);
    f.dispose();
    enc.dispose();
  });
});

describe("config", () => {
  it("infers the official archs from names and shapes", () => {
    const dec = inferConfig(parseSafetensors(writeSafetensors(randomStateDict(lmConfig({ n_heads: 2, rpe_layers: 3 }), 7))));
    expect(dec).toMatchObject({ dModel: 16, nLayers: 2, expandRatio: 3, nHeads: 2, rpeDim: 8, rpeLayers: 3, causal: true, prenorm: true,
      gluDim: 16, vocabSize: 40, embedScale: 4, finalNorm: "layernorm", embeddingLayernorm: false, lmHead: "tied" });
    expect(dec.gamma).not.toBeNull();
    const enc = inferConfig(parseSafetensors(writeSafetensors(randomStateDict(encoderConfig({ gamma: null }), 8))));
    expect(enc).toMatchObject({ causal: false, prenorm: false, embedScale: 1, finalNorm: null, embeddingLayernorm: true, lmHead: "mlm", gamma: null });
    expect(() => inferConfig(parseSafetensors(writeSafetensors({ x: { shape: [1], data: new Float32Array(1) } })))).toThrow(ConfigError);
  });

  it("rejects invalid configs with ConfigError", () => {
    const good = lmConfig();
    expect(() => configFromJSON("{not json")).toThrow(ConfigError);
    expect(() => configFromJSON({ ...good, colour: "red" })).toThrow(/unknown key/);
    const { d_model: _, ...noD } = good;
    expect(() => configFromJSON(noD)).toThrow(/missing key "dModel"/);
    expect(() => configFromJSON({ ...good, n_layers: -1 })).toThrow(ConfigError);
    expect(() => configFromJSON({ ...good, gamma: 1.5 })).toThrow(ConfigError);
    expect(() => configFromJSON({ ...good, n_heads: 5 })).toThrow(/does not divide/);
    expect(() => configFromJSON({ ...good, final_norm: "rms" })).toThrow(ConfigError);
    expect(configFromJSON(JSON.stringify(good)).dModel).toBe(16);
  });

  it("a config that contradicts the weights is a ConfigError naming each contradiction", async () => {
    const cfg = lmConfig();
    const file = writeSafetensors(randomStateDict(cfg, 9));
    const e1 = await errorOf(loadModel(file, { config: { ...cfg, d_model: 32, n_layers: 3 } }));
    expect(e1).toBeInstanceOf(ConfigError);
    expect((e1 as Error).message).toMatch(/d_model is 32 but the weights say 16/);
    expect((e1 as Error).message).toMatch(/n_layers is 3 but the weights say 2/);
    expect(await errorOf(loadModel(file, { config: { ...cfg, gamma: null } }))).toBeInstanceOf(ConfigError);
    expect(await errorOf(loadModel(file, { config: encoderConfig() }))).toBeInstanceOf(ConfigError);
    expect(await errorOf(loadModel(file, { config: { ...cfg, rpe_layers: 1 } }))).toBeInstanceOf(ConfigError);
  });
});

describe("weights", () => {
  const cfg = lmConfig();

  it("reports missing, unexpected and mis-shaped tensors all at once, with expected and actual shapes", async () => {
    const W = randomStateDict(cfg, 11);
    W.delete("decoder.layers.1.glu.l2.bias");
    W.set("decoder.layers.0.glu.l3.weight", { shape: [16, 15], data: new Float32Array(16 * 15) });
    W.set("decoder.extra.weight", { shape: [2, 2], data: new Float32Array(4) });
    W.set("decoder.layers.1.glu.l1.bias", { dtype: "I32", shape: [16], data: new Uint8Array(64) });
    const e = await errorOf(loadModel(writeSafetensors(W), { config: cfg }));
    expect(e).toBeInstanceOf(WeightsMismatchError);
    const problems = (e as WeightsMismatchError).problems;
    expect(problems).toHaveLength(4);
    expect(problems.join("\n")).toMatch(/missing decoder\.layers\.1\.glu\.l2\.bias: expected shape \[16\]/);
    expect(problems.join("\n")).toMatch(/decoder\.layers\.0\.glu\.l3\.weight: expected shape \[16, 16\], got \[16, 15\]/);
    expect(problems.join("\n")).toMatch(/unexpected decoder\.extra\.weight \[2, 2\]/);
    expect(problems.join("\n")).toMatch(/decoder\.layers\.1\.glu\.l1\.bias: dtype I32/);
  });

  it("a mis-shaped gamma is reported with its official (h, 1, d1/h) shape", async () => {
    const W = randomStateDict(cfg, 12);
    W.set("decoder.layers.1.self_attn.gtu.toep.gamma", { shape: [48], data: new Float32Array(48).fill(0.99) });
    const e = await errorOf(loadModel(writeSafetensors(W), { config: cfg }));
    expect(e).toBeInstanceOf(WeightsMismatchError);
    expect((e as Error).message).toMatch(/toep\.gamma: expected shape \[1, 1, 48\], got \[48\]/);
  });

  it("fills a missing tied output projection from the embedding, and ignores decoder.version", async () => {
    const W = randomStateDict(cfg, 13, { omitOutputProjection: true });
    expect(W.has("decoder.version")).toBe(true);
    const model = await loadModel(writeSafetensors(W));
    const a = ids(12, cfg.vocab_size, 6);
    const out = model.forward(a);
    expectClose(out.toArray(), logits64(W, cfg, a));
    out.dispose();
    model.dispose();
  });

  it("an output projection that differs from the embedding is used as stored", async () => {
    const W = randomStateDict(cfg, 14);
    const proj = W.get("decoder.output_projection.weight")!.data as Float32Array;
    for (let i = 0; i < proj.length; i += 3) proj[i] = -proj[i]!;
    const model = await loadModel(writeSafetensors(W));
    const a = ids(12, cfg.vocab_size, 7);
    const out = model.forward(a);
    expectClose(out.toArray(), logits64(W, cfg, a));
    out.dispose();
    model.dispose();
  });

  it("loads from a path with config.json beside it, a file: URL, an ArrayBuffer and a Response", async () => {
    const c = lmConfig({ embed_scale: 1.5 }); // not inferable: only the config.json beside can say so
    const W = randomStateDict(c, 15);
    const file = writeSafetensors(W);
    const dir = mkdtempSync(`${tmpdir()}/tnn-models-`);
    writeFileSync(`${dir}/model.safetensors`, file);
    writeFileSync(`${dir}/config.json`, JSON.stringify(c));
    const a = ids(10, c.vocab_size, 8);
    const want = logits64(W, c, a);
    for (const src of [`${dir}/model.safetensors`, pathToFileURL(`${dir}/model.safetensors`)]) {
      const m = await loadModel(src);
      expect(m.config.embedScale).toBe(1.5);
      const out = m.forward(a);
      expectClose(out.toArray(), want);
      out.dispose();
      m.dispose();
    }
    for (const src of [file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength), new Response(file as Uint8Array<ArrayBuffer>)]) {
      const m = await loadModel(src as ArrayBuffer, { config: JSON.stringify(c) });
      const out = m.forward(a);
      expectClose(out.toArray(), want);
      out.dispose();
      m.dispose();
    }
    await expect(loadModel(file, { colour: 1 } as never)).rejects.toBeInstanceOf(InvalidOptionError);
  });

  it("a load that fails midway frees everything it had allocated", async () => {
    // Big enough that a leak would show: 4 MiB of embedding per attempt. A NaN λ in the last layer fails after the
    // embedding and the first layer are already in wasm memory (NaN and infinite weights are refused at load).
    const c = lmConfig({ d_model: 128, glu_dim: 128, vocab_size: 8192, embed_scale: 1 });
    const W = randomStateDict(c, 17);
    (W.get("decoder.layers.1.self_attn.gtu.toep.gamma")!.data as Float32Array)[5] = NaN;
    const file = writeSafetensors(W);
    const e = await errorOf(loadModel(file, { config: c }));
    expect(e).toBeInstanceOf(WeightsFormatError);
    expect((e as Error).message).toMatch(/decoder\.layers\.1\.self_attn\.gtu\.toep\.gamma" holds NaN at element 5/);
    const before = memoryBytes();
    for (let i = 0; i < 10; i++) expect(await errorOf(loadModel(file, { config: c }))).toBeInstanceOf(WeightsFormatError);
    expect(memoryBytes() - before).toBeLessThan(4 * 2 ** 20);
  });

  it("repeated forward passes free their intermediates", async () => {
    const c = lmConfig({ d_model: 32, glu_dim: 32 });
    const model = await loadModel(writeSafetensors(randomStateDict(c, 18)), { config: c });
    const a = ids(3000, c.vocab_size, 9);
    // Three warm-up passes: the second fills the TNO caches (a length is kept once it comes back), and the third may
    // still grow memory once, since the allocator places its buffers around the cache differently. A leak grows on
    // every pass.
    for (let i = 0; i < 3; i++) model.forward(a).dispose();
    const before = memoryBytes();
    for (let i = 0; i < 5; i++) model.forward(a).dispose();
    expect(memoryBytes()).toBe(before);
    model.dispose();
  });
});
