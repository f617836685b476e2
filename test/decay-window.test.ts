// The decay window of a causal kernel: the RPE bound holds at every offset sampled, and the tail past the window is
// within float32 resolution of the sum it leaves, measured on the coefficients themselves far past the window.
import { readdirSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { Tensor, init } from "../ts/core/index.js";
import { FLOAT32_ROUNDOFF } from "../ts/nn/decay-window.js";
import { Rpe, Tno } from "../ts/nn/index.js";
import { loadModel } from "../ts/generate/load.js";
import { rng } from "./helpers/random-state-dict.js";

beforeAll(async () => {
  await init();
});

/** Per channel: Σ_{k<K} |t_k| and Σ_{K≤k<far} |t_k| (float64 sums of the float32 coefficients), and max |RPE(k)|. */
function sums(tno: Tno, K: number, far: number): { kept: Float64Array; tail: Float64Array; maxRaw: Float64Array } {
  const c = tno.channels;
  const kept = new Float64Array(c);
  const tail = new Float64Array(c);
  const maxRaw = new Float64Array(c);
  using t = tno.coefficients(far);
  using raw = tno.coefficients(far, { decay: false });
  const a = t.data;
  const r = raw.data;
  for (let k = 0; k < far; k++) {
    for (let ch = 0; ch < c; ch++) {
      const v = Math.abs(a[k * c + ch]!);
      if (k < K) kept[ch] = kept[ch]! + v;
      else tail[ch] = tail[ch]! + v;
      maxRaw[ch] = Math.max(maxRaw[ch]!, Math.abs(r[k * c + ch]!));
    }
  }
  return { kept, tail, maxRaw };
}

function randomRpe(e: number, layers: number, c: number, seed: number, gain: number): Rpe {
  const r = rng(seed);
  const u = (n: number, b: number) => Float32Array.from({ length: n }, () => (2 * r() - 1) * b);
  return Rpe.fromParams({
    posWeight: u(e, 1),
    posBias: u(e, 1),
    layers: Array.from({ length: layers }, () => ({ weight: u(e * e, 1 / Math.sqrt(e)), bias: u(e, 0.5) })),
    outWeight: u(c * e, gain / Math.sqrt(e)),
    outBias: u(c, gain),
  });
}

describe("decay window", () => {
  it("the shipped model: the bound covers every |RPE(k)| and the measured tail past K is below u·Σ_{k<K}|t_k|", async () => {
    const model = await loadModel(new URL("../models/kjv-byte/model.safetensors", import.meta.url).pathname);
    try {
      for (const layer of model.body.layers) {
        const K = layer.tno.window;
        // λ = 0.99 and an RPE of order 1: about two thousand offsets (measured 2,069–2,345 per layer).
        expect(K).toBeGreaterThan(1000);
        expect(K).toBeLessThan(4000);
        const { kept, tail, maxRaw } = sums(layer.tno, K, 20_000);
        const B = layer.tno.rpe.bound();
        for (let ch = 0; ch < layer.tno.channels; ch++) {
          expect(maxRaw[ch]).toBeLessThanOrEqual(B[ch]!);
          expect(tail[ch]).toBeLessThanOrEqual(FLOAT32_ROUNDOFF * kept[ch]!);
        }
      }
    } finally {
      model.dispose();
    }
  });

  // Every registered architecture (fixtures built by the official code, random weights): the RPE variants they use
  // (1 to 6 layers, widths 16 to 64, GTU v1/v2/v3 around them) all end in the norm → activation → Linear that the
  // bound rests on.
  const official = new URL("./fixtures/official/", import.meta.url);
  const archs = readdirSync(official, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.includes("+")).map((e) => e.name);
  it.each(archs)("official %s: the bound covers every |RPE(k)|; a decayed causal kernel's tail past K is below u·Σ_{k<K}|t_k|", async (name) => {
    const model = await loadModel(new URL(`${name}/model.safetensors`, official).pathname, { kind: "auto" });
    try {
      for (const layer of model.body.layers) {
        const tno = layer.tno;
        const decays = tno.gamma !== undefined;
        expect(Number.isFinite(tno.window)).toBe(decays);
        const B = tno.rpe.bound();
        // Offsets on both sides (encoders mix both ways), far past any window.
        using raw = tno.rpe.forward(-20_000, 40_001);
        const r = raw.data;
        let worst = 0; // the largest |RPE(k)[c]| / B_c
        for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(r[i]!) / B[i % tno.channels]!);
        expect(worst).toBeGreaterThan(0);
        expect(worst).toBeLessThanOrEqual(1);
        if (tno.causal && decays) {
          const { kept, tail } = sums(tno, tno.window, tno.window + 10_000);
          for (let ch = 0; ch < tno.channels; ch++) expect(tail[ch]).toBeLessThanOrEqual(FLOAT32_ROUNDOFF * kept[ch]!);
        }
      }
    } finally {
      model.dispose();
    }
  });

  it("random RPEs, per-channel λ from 0.9 to 0.998, 1 and 3 RPE layers, large outputs", () => {
    for (const [layers, gain, seed] of [[1, 1, 1], [3, 8, 2], [0, 0.2, 3]] as const) {
      const c = 24;
      const r = rng(seed + 100);
      const gamma = Float32Array.from({ length: c }, (_, i) => (i === 0 ? 0.998 : 0.9 + 0.095 * r()));
      const tno = new Tno(randomRpe(16, layers, c, seed, gain), Tensor.from(gamma), { causal: true });
      try {
        const K = tno.window;
        expect(Number.isFinite(K)).toBe(true);
        const { kept, tail, maxRaw } = sums(tno, K, K + 30_000);
        const B = tno.rpe.bound();
        for (let ch = 0; ch < c; ch++) {
          expect(maxRaw[ch]).toBeLessThanOrEqual(B[ch]!);
          expect(tail[ch]).toBeLessThanOrEqual(FLOAT32_ROUNDOFF * kept[ch]!);
        }
      } finally {
        tno.dispose();
      }
    }
  });

  it("is infinite without decay, and for a λ of 1", () => {
    const plain = new Tno(randomRpe(8, 1, 4, 5, 1), undefined, { causal: true });
    expect(plain.window).toBe(Infinity);
    plain.dispose();
    const one = new Tno(randomRpe(8, 1, 4, 6, 1), Tensor.from(new Float32Array([0.99, 1, 0.9, 0.5])), { causal: true });
    expect(one.window).toBe(Infinity);
    one.dispose();
  });
});
