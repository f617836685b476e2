// Exact computation in bounded memory for decayed kernels: the windowed Toeplitz product, the windowed decoder and
// the pipelined last-position forward, each against the full-history computation it replaces.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tensor, ToeplitzPlan, init } from "../ts/core/index.js";
import { type CausalLM } from "../ts/generate/causal-lm.js";
import { loadModel } from "../ts/generate/load.js";
import { WINDOWED_MIN_LENGTH } from "../ts/nn/tno.js";
import { maxDiff } from "./helpers/reference64.js";
import { rng } from "./helpers/random-state-dict.js";

let model: CausalLM;

beforeAll(async () => {
  await init();
  model = await loadModel(new URL("../models/kjv-byte/model.safetensors", import.meta.url).pathname);
});
afterAll(() => model?.dispose());

/** Byte ids of a long pseudo-random text. */
function text(n: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => 32 + Math.floor(r() * 90));
}

describe("windowed Toeplitz product", () => {
  it("a long causal product through the window equals the full FFT product", () => {
    const tno = model.body.layers[0]!.tno;
    const n = Math.max(WINDOWED_MIN_LENGTH, 2 * tno.window) + 777;
    const c = tno.channels;
    const r = rng(3);
    using x = Tensor.from(Float32Array.from({ length: n * c }, () => 2 * r() - 1), [n, c]);
    using windowed = tno.forward(x);
    using coeffs = tno.coefficients(n);
    const plan = new ToeplitzPlan(n, c, true);
    try {
      using full = plan.applyCoeffs(x, coeffs);
      const { diff, scale } = maxDiff(windowed.toArray(), full.toArray());
      expect(diff).toBeLessThanOrEqual(1e-5 * scale);
    } finally {
      plan.dispose();
    }
  });
});

describe("windowed decoder", () => {
  it("past its window its state stops growing, and its teacher-forced logits equal the full-history decoder's over 20,000 positions", () => {
    const ids = text(20_000, 5);
    const V = model.vocabSize;
    const windowed = model.decoder();
    const full = model.decoder({ window: false });
    const a = new Float32Array(V);
    const b = new Float32Array(V);
    let worst = 0;
    let scale = 0;
    const compare = (): void => {
      const { diff, scale: s } = maxDiff(a, b);
      worst = Math.max(worst, diff);
      scale = Math.max(scale, s);
    };
    try {
      windowed.prefill(ids.subarray(0, 10), a);
      full.prefill(ids.subarray(0, 10), b);
      compare();
      const maxWindow = Math.max(...model.body.layers.map((l) => l.tno.window));
      let bytesPastWindow = 0;
      for (let t = 10; t < ids.length; t++) {
        windowed.step(ids[t]!, a);
        full.step(ids[t]!, b);
        compare();
        if (t === maxWindow + 10) bytesPastWindow = windowed.memoryBytes;
      }
      expect(windowed.capacity).toBe(Infinity);
      expect(windowed.memoryBytes).toBe(bytesPastWindow);
      expect(full.memoryBytes).toBeGreaterThan(2 * bytesPastWindow);
      expect(worst).toBeLessThanOrEqual(1e-4 * scale);
    } finally {
      windowed.dispose();
      full.dispose();
    }
  });

  it("a long prompt goes straight into windowed states and continues as the full decoder does", () => {
    const ids = text(12_000, 6);
    const V = model.vocabSize;
    const windowed = model.decoder();
    const full = model.decoder({ window: false });
    try {
      const a = windowed.prefill(ids.subarray(0, 11_000));
      const b = full.prefill(ids.subarray(0, 11_000));
      expect(windowed.capacity).toBe(Infinity);
      let { diff, scale } = maxDiff(a, b);
      for (let t = 11_000; t < ids.length; t++) {
        const d = maxDiff(windowed.step(ids[t]!), full.step(ids[t]!));
        diff = Math.max(diff, d.diff);
        scale = Math.max(scale, d.scale);
      }
      expect(diff).toBeLessThanOrEqual(1e-4 * scale);
      expect(a.length).toBe(V);
    } finally {
      windowed.dispose();
      full.dispose();
    }
  });
});

describe("pipelined forward", () => {
  it("the last position of a long input, block by block through the windows, equals the full forward's last row", () => {
    const ids = text(9_000, 7);
    using last = model.forward(ids, { lastOnly: true });
    using all = model.forward(ids);
    const V = model.vocabSize;
    const want = all.toArray().subarray((ids.length - 1) * V);
    const { diff, scale } = maxDiff(last.toArray(), want);
    expect(last.dims).toEqual([1, V]);
    expect(diff).toBeLessThanOrEqual(1e-4 * scale);
  });
});
