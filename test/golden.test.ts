// Golden tests: the library's logits against the float64 reference of tools/reference.py (written from the
// architecture page, not from this code), on the committed fixtures. Tolerance: 1e-4 of the logits' max magnitude.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { init } from "../ts/core/index.js";
import { configFromJSON } from "../ts/models/index.js";
import { loadModel } from "../ts/generate/load.js";
import { fixtureNames, pickPositions, readFixture } from "./helpers/fixtures.js";
import { maxDiff } from "./helpers/reference64.js";

beforeAll(async () => {
  await init();
});

const names = fixtureNames();

async function logitsOf(fx: ReturnType<typeof readFixture>, source: Parameters<typeof loadModel>[0], options = {}) {
  const model = await loadModel(source, { kind: "auto", ...options });
  try {
    const out = model.forward(fx.ids);
    try {
      const [batch, , vocab] = fx.shape;
      const n = fx.ids[0]!.length;
      expect(out.dims).toEqual([batch, n, vocab]);
      return pickPositions(out.toArray(), batch, n, vocab, fx.positions);
    } finally {
      out.dispose();
    }
  } finally {
    model.dispose();
  }
}

function expectClose(got: Float32Array, fx: ReturnType<typeof readFixture>, rel = 1e-4): void {
  const { diff, scale } = maxDiff(got, fx.logits);
  expect(scale).toBeGreaterThan(0);
  expect(diff, `${fx.name}: max |Δ| ${diff} vs max |ref| ${scale}`).toBeLessThanOrEqual(rel * scale);
}

describe("golden fixtures (float64 reference)", () => {
  it("has fixtures to check", () => {
    expect(names.length).toBeGreaterThanOrEqual(8);
  });

  for (const name of names) {
    it(`${name}: logits match the reference (config.json beside the weights)`, async () => {
      const fx = readFixture(name);
      expectClose(await logitsOf(fx, fx.weightsPath), fx);
    });
  }

  it("f16 weights kept as float16 in memory give the same logits", async () => {
    const fx = readFixture("lm_pre_h1_decay_f16");
    expectClose(await logitsOf(fx, fx.weightsPath, { dtype: "float16" }), fx);
  });

  it("int8 weights stay within 3e-2 of the reference on every fixture (measured worst 1.8e-2, tiny random models)", async () => {
    const errors: string[] = [];
    for (const name of names) {
      const fx = readFixture(name);
      const { diff, scale } = maxDiff(await logitsOf(fx, fx.weightsPath, { dtype: "int8" }), fx.logits);
      errors.push(`${name} ${(diff / scale).toExponential(2)}`);
      expect(diff, `${name}: max |Δ| ${diff} vs max |ref| ${scale}`).toBeLessThanOrEqual(3e-2 * scale);
    }
    console.log(`int8 relative logit error: ${errors.join(", ")}`);
  });

  // Official-named weights with no config at all load and give the reference logits.
  const fromNames = names.filter((name) => readFixture(name).configFromNames);
  it("has fixtures whose config follows from the weights' names", () => {
    expect(fromNames.length).toBeGreaterThanOrEqual(3);
  });
  for (const name of fromNames) {
    it(`${name}: loads from bare bytes with an inferred config and gives the reference logits`, async () => {
      const fx = readFixture(name);
      const bytes = new Uint8Array(readFileSync(fx.weightsPath));
      const model = await loadModel(bytes, { kind: "auto" });
      try {
        const want = configFromJSON(fx.config);
        const { gamma: g1, ...rest1 } = model.config;
        const { gamma: g2, ...rest2 } = want;
        expect(rest1).toEqual(rest2);
        expect(g1 === null).toBe(g2 === null);
      } finally {
        model.dispose();
      }
      expectClose(await logitsOf(fx, bytes), fx);
    });
  }
});
