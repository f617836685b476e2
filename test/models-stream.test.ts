// Loading weights from streams (Response, ReadableStream, file path): the same model as from bytes, whatever the chunk
// sizes; bad streams fail with typed errors and free what was staged; and wasm memory holds the weights about once.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ConfigError, type Tensor, WeightsFormatError, init, memoryBytes } from "../ts/core/index.js";
import { type TnnForCausalLM, readSafetensorsHeaderOf } from "../ts/models/index.js";
import { loadModel } from "../ts/generate/load.js";
import { type Embedding, type Linear } from "../ts/nn/index.js";
import { type SnakeConfig, lmConfig, logits64, randomStateDict } from "./helpers/random-state-dict.js";
import { maxDiff } from "./helpers/reference64.js";
import { errorOf } from "./helpers/error-of.js";
import { type RawTensor, writeSafetensors } from "./helpers/safetensors-writer.js";

beforeAll(async () => {
  await init();
});

/** A byte stream that hands out `bytes` in chunks cycling through `sizes`, counting pulls and noting cancellation. */
function chunkedStream(bytes: Uint8Array, sizes: number[], opts: { failAfter?: number } = {}) {
  let at = 0;
  let k = 0;
  const stats = { pulls: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      stats.pulls++;
      if (opts.failAfter !== undefined && at >= opts.failAfter) {
        controller.error(new Error("connection reset"));
        return;
      }
      if (at >= bytes.length) {
        controller.close();
        return;
      }
      const n = sizes[k++ % sizes.length]!;
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
    cancel() {
      stats.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, stats };
}

/** A byte stream (`type: "bytes"`, read through a BYOB reader) enqueuing `bytes` in chunks cycling through `sizes`. */
function byteStream(bytes: Uint8Array, sizes: number[]): ReadableStream<Uint8Array> {
  let at = 0;
  let k = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (at >= bytes.length) {
        controller.close();
        // A pending BYOB read must be answered even at the end.
        controller.byobRequest?.respond(0);
        return;
      }
      const n = sizes[k++ % sizes.length]!;
      controller.enqueue(bytes.slice(at, at + n));
      at += n;
    },
  });
}

const ids = (n: number, V: number): number[] => Array.from({ length: n }, (_, i) => (i * 11 + 3) % V);

function expectLogits(model: TnnForCausalLM, W: Map<string, RawTensor>, c: SnakeConfig, rel = 1e-4): void {
  const a = ids(20, c.vocab_size);
  const out = model.forward(a);
  const { diff, scale } = maxDiff(out.toArray(), logits64(W, c, a));
  out.dispose();
  expect(scale).toBeGreaterThan(0);
  expect(diff, `max |Δ| ${diff} vs max |ref| ${scale}`).toBeLessThanOrEqual(rel * scale);
}


/** Half bits of `x`, which must be a multiple of 2^-10 below 2 in magnitude (exactly representable, no rounding). */
function exactHalfBits(x: number): number {
  if (x === 0) return 0;
  const sign = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  const e = Math.floor(Math.log2(a));
  return sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
}

/**
 * The state dict with every float tensor moved onto the F16 grid (clamped to ±2 and rounded to 2^-10, where every
 * value is exact) and encoded as F16 bits; `rounded` holds the same values as float32 for the reference.
 */
function asF16(W: Map<string, RawTensor>): { file: Map<string, RawTensor>; rounded: Map<string, RawTensor> } {
  const file = new Map<string, RawTensor>();
  const rounded = new Map<string, RawTensor>();
  for (const [name, t] of W) {
    if (!(t.data instanceof Float32Array)) {
      file.set(name, t);
      rounded.set(name, t);
      continue;
    }
    const v = Float32Array.from(t.data, (x) => Math.round(Math.max(-2047, Math.min(2047, x * 1024))) / 1024);
    file.set(name, { shape: t.shape, data: Uint16Array.from(v, exactHalfBits), dtype: "F16" });
    rounded.set(name, { shape: t.shape, data: v });
  }
  return { file, rounded };
}

describe("streamed loading", () => {
  const c = lmConfig({ n_heads: 2 });
  const W = randomStateDict(c, 31);
  const bytes = writeSafetensors(W);

  it("a ReadableStream or Response in chunks of any size, and a file path, load the model the bytes load", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tnn-stream-"));
    const path = join(dir, "model.safetensors");
    writeFileSync(path, bytes);
    for (const sizes of [[1], [3, 7, 1, 4096], [bytes.length]]) {
      const sources = [chunkedStream(bytes, sizes).stream, new Response(chunkedStream(bytes, sizes).stream), byteStream(bytes, sizes)];
      for (const source of sources) {
        const model = (await loadModel(source, { config: c })) as TnnForCausalLM;
        expectLogits(model, W, c);
        model.dispose();
      }
    }
    const fromPath = (await loadModel(path, { config: c })) as TnnForCausalLM;
    expectLogits(fromPath, W, c);
    fromPath.dispose();
  });

  it("infers the config, gamma included, from a stream", async () => {
    const g = lmConfig({ gamma: 0.95 });
    const Wg = randomStateDict(g, 32, { gammaRange: [0.95, 0.95] });
    const model = (await loadModel(chunkedStream(writeSafetensors(Wg), [5, 77]).stream)) as TnnForCausalLM;
    expect(model.config.gamma).toBe(Math.fround(0.95));
    expectLogits(model, Wg, g);
    model.dispose();
  });

  it("truncated data, extra data and a failing stream are WeightsFormatErrors that free what was staged", async () => {
    // 4 MiB of embedding per attempt, so a leak would show.
    const big = lmConfig({ d_model: 128, glu_dim: 128, vocab_size: 8192, embed_scale: 1 });
    const file = writeSafetensors(randomStateDict(big, 33));
    const longer = new Uint8Array(file.length + 3);
    longer.set(file);
    const cases: [() => ReadableStream<Uint8Array>, RegExp][] = [
      [() => chunkedStream(file.subarray(0, file.length - 100), [65536]).stream, /data ended after .* \(truncated file\?\)/],
      [() => chunkedStream(longer, [65536]).stream, /longer than the \d+ bytes its header describes/],
      [() => chunkedStream(file, [65536], { failAfter: file.length >> 1 }).stream, /stream failed: connection reset/],
      [() => chunkedStream(file.subarray(0, 20), [65536]).stream, /runs past the end/],
    ];
    for (const [make, message] of cases) {
      const e = await errorOf(loadModel(make(), { config: big }));
      expect(e).toBeInstanceOf(WeightsFormatError);
      expect((e as Error).message).toMatch(message);
    }
    const before = memoryBytes();
    for (let i = 0; i < 8; i++) {
      for (const [make] of cases) expect(await errorOf(loadModel(make(), { config: big }))).toBeInstanceOf(WeightsFormatError);
    }
    expect(memoryBytes() - before).toBeLessThan(4 * 2 ** 20);
  });

  it("a header that does not fit the config fails before the data is read, and the stream is cancelled", async () => {
    const big = lmConfig({ d_model: 128, glu_dim: 128, vocab_size: 8192 });
    const file = writeSafetensors(randomStateDict(big, 34));
    const { stream, stats } = chunkedStream(file, [4096]);
    const e = await errorOf(loadModel(stream, { config: { ...big, n_layers: 3 } }));
    expect(e).toBeInstanceOf(ConfigError);
    // The header is a few KB; the file is over 4 MB.
    expect(stats.pulls).toBeLessThan(5);
    expect(stats.cancelled).toBe(true);
  });

  it("readSafetensorsHeaderOf reads the header and stops: the data is never pulled", async () => {
    const big = lmConfig({ d_model: 128, glu_dim: 128, vocab_size: 8192 });
    const file = writeSafetensors(randomStateDict(big, 37));
    const { stream, stats } = chunkedStream(file, [4096]);
    const header = await readSafetensorsHeaderOf(stream);
    expect(header.get("decoder.embed_tokens.weight")?.shape).toEqual([8192, 128]);
    expect(header.dataBytes).toBe(file.length - 8 - new DataView(file.buffer).getUint32(0, true));
    expect(stats.pulls).toBeLessThan(5);
    expect(stats.cancelled).toBe(true);
    expect(await errorOf(readSafetensorsHeaderOf(chunkedStream(file.subarray(0, 100), [64]).stream))).toBeInstanceOf(WeightsFormatError);
  });

  it("an error status is a WeightsFormatError", async () => {
    const e = await errorOf(loadModel(new Response("not found", { status: 404 }), { config: c }));
    expect(e).toBeInstanceOf(WeightsFormatError);
    expect((e as Error).message).toMatch(/status 404/);
  });

  it("an F16 file streams into float16 storage holding the weights once, a duplicated tied head included", async () => {
    // 4 MiB of F16 embedding, stored twice (as the converter writes tied heads).
    const big = lmConfig({ d_model: 256, glu_dim: 256, vocab_size: 8192 });
    const { file: half, rounded } = asF16(randomStateDict(big, 35));
    expect(half.has("decoder.output_projection.weight")).toBe(true);
    const file = writeSafetensors(half);
    const headBytes = 8192 * 256 * 2;
    const before = memoryBytes();
    const model = (await loadModel(chunkedStream(file, [65536, 1000, 3]).stream, { config: big, dtype: "float16" })) as TnnForCausalLM;
    const grown = memoryBytes() - before;
    expect(((model.head as Linear).weight as Tensor).sharesDataWith((model.body.embed as Embedding).weight as Tensor)).toBe(true);
    expect(grown).toBeLessThan(file.length - headBytes + 2 ** 20);
    expectLogits(model, rounded, big);
    model.dispose();
  });

  it("streams into int8 storage block by block: the same model as from bytes, at about half the F16 file in wasm", async () => {
    const big = lmConfig({ d_model: 256, glu_dim: 256, vocab_size: 8192 });
    const { file: half, rounded } = asF16(randomStateDict(big, 36));
    const file = writeSafetensors(half);
    const before = memoryBytes();
    const streamed = (await loadModel(chunkedStream(file, [65536, 999]).stream, { config: big, dtype: "int8" })) as TnnForCausalLM;
    const grown = memoryBytes() - before;
    // Codes are one byte per F16 value of two; the tied head is shared, not stored again.
    expect(grown).toBeLessThan(file.length / 2 - 8192 * 256 + 2 ** 20);
    const fromBytes = (await loadModel(file, { config: big, dtype: "int8" })) as TnnForCausalLM;
    const a = ids(20, big.vocab_size);
    const x = streamed.forward(a), y = fromBytes.forward(a);
    expect(Array.from(x.toArray())).toEqual(Array.from(y.toArray()));
    expectLogits(streamed, rounded, big, 3e-2);
    for (const t of [x, y, streamed, fromBytes]) t.dispose();
  });
});
