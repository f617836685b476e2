/**
 * What the packed package does for a model with GPT-2's vocabulary, per build: Node's entry finds the tokenizer by
 * itself; the browser/Worker build (imported here in Node, its wasm handed to init) refuses with the way out, loads
 * with `tokenizer: "none"`, and takes the tokenizer from its `tnn/gpt2` entry. GPT-2's ids of "Hello world",
 * [15496, 995], are published with its vocabulary, not computed by tnn.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { type PackedProject, packedProject } from "./runtimes/packed-project.js";
import { lmConfig, randomStateDict } from "./helpers/random-state-dict.js";
import { writeSafetensors } from "./helpers/safetensors-writer.js";

const HELLO_WORLD = [15496, 995];
const CONFIG = lmConfig({ vocab_size: 50257, d_model: 8, glu_dim: 8, rpe_dim: 4, n_layers: 1 });

interface Tnn {
  init(o?: object): Promise<unknown>;
  loadModel(src: Uint8Array, o: object): Promise<{ tokenizer?: { name: string; encode(s: string): Int32Array }; dispose(): void }>;
  TokenizerError: new (...a: never[]) => Error;
}

describe("a GPT-2-vocabulary model from the packed package", () => {
  let project: PackedProject;
  let weights: Uint8Array;
  const load = (file: string) => import(pathToFileURL(join(project.pkgDir, "dist", file)).href);

  beforeAll(() => {
    project = packedProject();
    weights = writeSafetensors(randomStateDict(CONFIG, 3));
  });

  it("in Node, gets GPT-2's tokenizer from the main entry by itself", async () => {
    const tnn = (await load("index.js")) as Tnn;
    const model = await tnn.loadModel(weights, { config: CONFIG });
    expect(model.tokenizer?.name).toBe("gpt2");
    expect(Array.from(model.tokenizer!.encode("Hello world"))).toEqual(HELLO_WORLD);
    model.dispose();
  });

  it("in the browser/Worker build, needs tnn/gpt2's tokenizer and says so", async () => {
    const web = (await load("browser.js")) as Tnn;
    const gpt2 = (await load("browser-gpt2.js")) as { loadGpt2Tokenizer(o?: object): Promise<{ name: string; encode(s: string): Int32Array }> };
    await web.init({ wasm: readFileSync(join(project.pkgDir, "dist/tnn-simd.wasm")) });
    const refused = await web.loadModel(weights, { config: CONFIG }).then(() => undefined, (e: unknown) => e);
    expect(refused).toBeInstanceOf(web.TokenizerError);
    expect((refused as Error).message).toContain('"tnn/gpt2"');
    const idsOnly = await web.loadModel(weights, { config: CONFIG, tokenizer: "none" });
    expect(idsOnly.tokenizer).toBeUndefined();
    idsOnly.dispose();
    const model = await web.loadModel(weights, { config: CONFIG, tokenizer: await gpt2.loadGpt2Tokenizer() });
    expect(Array.from(model.tokenizer!.encode("Hello world"))).toEqual(HELLO_WORLD);
    model.dispose();
  });
});
