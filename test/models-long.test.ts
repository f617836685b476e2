// The paper-shaped causal LM (d=512, 7 layers, d1=1536, RPE 64×6) on a 16384-token input: it runs, its logits are
// finite, and being causal, its first positions agree with a short run over the same prefix (which takes the
// direct Toeplitz path instead of the FFT one). Timing and memory are measured by benches/long-input.mjs.
import { beforeAll, describe, expect, it } from "vitest";
import { init, memoryBytes } from "../ts/core/index.js";
import { loadModel } from "../ts/generate/load.js";
import { PAPER_LM_CONFIG, paperLmFile, paperLmIds } from "./helpers/paper-lm.js";
import { maxDiff } from "./helpers/reference64.js";

beforeAll(async () => {
  await init();
});

describe("long input", () => {
  it("runs the paper-shaped LM on n = 16384", async () => {
    const model = await loadModel(paperLmFile(), { config: PAPER_LM_CONFIG });
    const n = 16384;
    const ids = paperLmIds(n);
    const V = PAPER_LM_CONFIG.vocab_size;
    const out = model.forward(ids);
    expect(out.dims).toEqual([n, V]);
    const all = out.toArray();
    out.dispose();
    let finite = true;
    for (let i = 0; i < all.length && finite; i++) finite = Number.isFinite(all[i]!);
    expect(finite).toBe(true);
    const k = 64;
    const short = model.forward(ids.subarray(0, k));
    const { diff, scale } = maxDiff(all.subarray(0, k * V), short.toArray());
    short.dispose();
    expect(scale).toBeGreaterThan(0);
    expect(diff).toBeLessThanOrEqual(1e-4 * scale);
    expect(memoryBytes()).toBeLessThan(4 * 2 ** 30);
    model.dispose();
  });
});
