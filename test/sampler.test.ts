import { describe, expect, it } from "vitest";
import { InvalidOptionError, ShapeError, ValueRangeError } from "../ts/core/errors.js";
import { Xoshiro128 } from "../ts/generate/prng.js";
import { Sampler, argmax } from "../ts/generate/sampler.js";

/** softmax(z / t) in float64, written independently of the sampler. */
function softmax(z: number[], t: number): number[] {
  const m = Math.max(...z);
  const e = z.map((x) => Math.exp((x - m) / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

function frequencies(s: Sampler, logits: number[], draws: number): number[] {
  const f = new Array<number>(logits.length).fill(0);
  for (let i = 0; i < draws; i++) f[s.sample(logits)]!++;
  return f.map((c) => c / draws);
}

describe("Xoshiro128", () => {
  it("matches the reference xoshiro128** sequence from state (1, 2, 3, 4)", () => {
    // Outputs of the reference C implementation (Blackman & Vigna) for s = {1, 2, 3, 4}.
    const g = Xoshiro128.fromState(1, 2, 3, 4);
    expect([0, 1, 2, 3, 4, 5].map(() => g.nextUint32())).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
  });

  it("gives floats in [0, 1) with a plausible mean, and the same stream for the same seed", () => {
    const a = new Xoshiro128(42);
    const b = new Xoshiro128(42);
    const c = new Xoshiro128(43);
    let sum = 0;
    let differs = false;
    for (let i = 0; i < 20000; i++) {
      const x = a.nextFloat();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      expect(b.nextFloat()).toBe(x);
      if (c.nextFloat() !== x) differs = true;
      sum += x;
    }
    expect(Math.abs(sum / 20000 - 0.5)).toBeLessThan(0.01);
    expect(differs).toBe(true);
  });

  it("rejects bad seeds", () => {
    expect(() => new Xoshiro128(-1)).toThrow(ValueRangeError);
    expect(() => new Xoshiro128(1.5)).toThrow(ValueRangeError);
    expect(() => new Xoshiro128(Number.NaN)).toThrow(ValueRangeError);
  });
});

describe("Sampler", () => {
  const logits = [0.3, 2.0, -1.0, 1.5, 0.0, 1.9];

  it("is greedy at temperature 0 (lowest id among ties)", () => {
    const s = new Sampler(6, { temperature: 0 });
    expect(s.sample(logits)).toBe(1);
    expect(new Sampler(4, { temperature: 0 }).sample([1, 3, 3, 2])).toBe(1);
    expect(argmax([-Infinity, -5, -7])).toBe(1);
  });

  it("draws from softmax(z / T)", () => {
    for (const t of [1, 0.5, 2]) {
      const f = frequencies(new Sampler(6, { temperature: t, seed: 7 }), logits, 60000);
      const p = softmax(logits, t);
      for (let i = 0; i < 6; i++) expect(Math.abs(f[i]! - p[i]!)).toBeLessThan(0.01);
    }
  });

  it("top-k keeps the k most likely tokens, renormalised", () => {
    const f = frequencies(new Sampler(6, { topK: 2, seed: 1 }), logits, 40000);
    const p = softmax([2.0, 1.9], 1);
    expect(f[1]! + f[5]!).toBe(1);
    expect(Math.abs(f[1]! - p[0]!)).toBeLessThan(0.01);
    expect(new Sampler(6, { topK: 1, temperature: 5, seed: 3 }).sample(logits)).toBe(1);
  });

  it("top-p keeps the shortest most-likely prefix reaching p", () => {
    const p = softmax(logits, 1);
    // Sorted: ids 1, 5, 3, 0, 4, 2. Cumulative after three: p1+p5+p3.
    const three = p[1]! + p[5]! + p[3]!;
    const two = p[1]! + p[5]!;
    expect(two).toBeLessThan(0.8);
    expect(three).toBeGreaterThan(0.8);
    const f = frequencies(new Sampler(6, { topP: 0.8, seed: 5 }), logits, 40000);
    expect(f[0]! + f[2]! + f[4]!).toBe(0);
    expect(Math.abs(f[3]! - p[3]! / three)).toBeLessThan(0.01);
    // A tiny top-p is greedy.
    expect(new Sampler(6, { topP: 1e-6, seed: 9 }).sample(logits)).toBe(1);
  });

  it("applies the repetition penalty to seen tokens (CTRL rule)", () => {
    const s = new Sampler(6, { temperature: 0, repetitionPenalty: 2 });
    s.observe([1]); // 2.0 -> 1.0: 5 (1.9) wins
    expect(s.sample(logits)).toBe(5);
    // 5 now seen too: 1.9 -> 0.95; 3 (1.5) wins
    expect(s.sample(logits)).toBe(3);
    const neg = new Sampler(3, { temperature: 0, repetitionPenalty: 3 });
    neg.observe([0]);
    expect(neg.sample([-0.1, -0.2, -5])).toBe(1); // -0.1 * 3 = -0.3 < -0.2
  });

  it("gives the same tokens for the same seed, other tokens for another seed", () => {
    const run = (seed: number): number[] => {
      const s = new Sampler(6, { seed, temperature: 1.3, topK: 5, topP: 0.95, repetitionPenalty: 1.1 });
      return Array.from({ length: 200 }, () => s.sample(logits));
    };
    expect(run(11)).toEqual(run(11));
    expect(run(11)).not.toEqual(run(12));
  });

  it("rejects bad options and inputs with typed errors", () => {
    expect(() => new Sampler(6, { topK: -1 })).toThrow(ValueRangeError);
    expect(() => new Sampler(6, { topK: 1.5 })).toThrow(ValueRangeError);
    expect(() => new Sampler(6, { temperature: Number.NaN })).toThrow(ValueRangeError);
    expect(() => new Sampler(6, { temperature: -0.1 })).toThrow(ValueRangeError);
    expect(() => new Sampler(6, { topP: 0 })).toThrow(ValueRangeError);
    expect(() => new Sampler(6, { topP: 1.01 })).toThrow(ValueRangeError);
    expect(() => new Sampler(6, { repetitionPenalty: 0 })).toThrow(ValueRangeError);
    expect(() => new Sampler(6, { seed: -3 })).toThrow(ValueRangeError);
    expect(() => new Sampler(6, { topk: 3 } as never)).toThrow(InvalidOptionError);
    const s = new Sampler(6, { seed: 1 });
    expect(() => s.sample([1, 2])).toThrow(ShapeError);
    expect(() => s.sample([0, 0, 0, Number.NaN, 0, 0])).toThrow(ValueRangeError);
    expect(() => s.observe([6])).toThrow(ValueRangeError);
  });
});
