/**
 * Memory is preallocated and reused: a model serving 1,000 generate calls must not grow wasm memory after the first
 * few. Runs on the packed package (the bundle users get), with prompts and lengths varying from call to call.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { FIXTURE } from "./runtimes/expected.js";
import { type PackedProject, packedProject, repoRoot } from "./runtimes/packed-project.js";

const CALLS = 1000;
/**
 * Prompt length cycles through 1..24, the start offset through 0..31 and maxNewTokens through 1..8: the pattern
 * repeats every lcm(24, 32, 8) = 96 calls, so every shape (and decode length bucket) has been seen once by then.
 * Memory may grow during that first cycle, never after.
 */
const WARM_UP = 96;

describe("wasm memory under repeated generation", () => {
  let project: PackedProject;
  beforeAll(() => {
    project = packedProject();
  });

  it(`does not grow over ${CALLS} generate calls once every call shape has been seen (${WARM_UP} calls)`, async () => {
    const tnn = await import(pathToFileURL(join(project.pkgDir, "dist/index.js")).href);
    const dir = join(repoRoot, "test/fixtures", FIXTURE);
    const model = await tnn.loadModel(new Uint8Array(readFileSync(join(dir, "model.safetensors"))), {
      config: readFileSync(join(dir, "config.json"), "utf8"),
    });
    const ids = (JSON.parse(readFileSync(join(dir, "input.json"), "utf8")) as { ids: number[][] }).ids[0]!;
    const sizes: number[] = [];
    let generated = 0;
    for (let i = 0; i < CALLS; i++) {
      const promptLength = 1 + (i % 24);
      const prompt = ids.slice(i % 32, (i % 32) + promptLength);
      for await (const _ of model.generate(prompt, { maxNewTokens: 1 + (i % 8), temperature: 0.8, topK: 20, seed: i })) generated++;
      sizes.push(tnn.memoryBytes());
    }
    model.dispose();
    expect(generated).toBeGreaterThan(CALLS);
    const settled = sizes[WARM_UP - 1]!;
    const grownAt = sizes.map((s, i) => [i, s] as const).filter(([i, s]) => i >= WARM_UP && s !== settled);
    expect(grownAt).toEqual([]);
  });
});
