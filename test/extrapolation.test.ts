// The paper's length-extrapolation claim on the shipped model, on a slice of its held-out text small enough for the
// test suite: trained at 512, one 14336-token window must score within 5% of the 512-token windows covering the same
// text, and the same weights with the decay removed (λ = 1) must not. benches/extrapolation.mjs runs the full curve.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init } from "../ts/core/index.js";
import { type TnnConfigJSON, type TnnForCausalLM, parseSafetensors } from "../ts/models/index.js";
import { loadModel } from "../ts/generate/load.js";
import { type EvalRow, evaluateLength } from "../ts/cli/eval-metrics.js";
import { ByteTokenizer } from "../ts/generate/byte-tokenizer.js";

const DIR = new URL("../models/kjv-byte/", import.meta.url);
const LONG = 14336;
const TRAIN = 512;
const config = JSON.parse(readFileSync(new URL("config.json", DIR), "utf8")) as TnnConfigJSON;
const weights = new Uint8Array(readFileSync(new URL("model.safetensors", DIR)));
// One long window's inputs and targets; the 512-token windows tile exactly the same targets.
const ids = Int32Array.from(readFileSync(new URL("heldout.txt", DIR)).subarray(0, LONG + 1));
const tokenizer = new ByteTokenizer(256);

/** A copy of the weights with every `toep.gamma` set to 1 (f16 0x3C00): the trained model without its decay. */
function weightsWithoutDecay(): Uint8Array {
  const copy = weights.slice();
  const file = parseSafetensors(copy);
  let found = 0;
  for (const name of file.names()) {
    if (!name.endsWith(".toep.gamma")) continue;
    const t = file.get(name)!;
    expect(t.dtype).toBe("F16");
    // The tensor's bytes are a view into `copy`, so this rewrites the copy in place.
    const v = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
    for (let i = 0; i < t.bytes.byteLength; i += 2) v.setUint16(i, 0x3c00, true);
    found++;
  }
  expect(found).toBe(config.n_layers);
  return copy;
}

let decay: TnnForCausalLM;
let noDecay: TnnForCausalLM;
let decayLongRow: EvalRow | undefined;
/** The trained model's one 14336-token window, which both tests compare against. */
const decayLong = (): EvalRow => (decayLongRow ??= evaluateLength(decay, tokenizer, ids, LONG, Infinity));

beforeAll(async () => {
  await init();
  decay = (await loadModel(weights, { config })) as TnnForCausalLM;
  noDecay = (await loadModel(weightsWithoutDecay(), { config })) as TnnForCausalLM;
});

afterAll(() => {
  decay?.dispose();
  noDecay?.dispose();
});

describe("length extrapolation of models/kjv-byte", () => {
  it("with its decay (λ = 0.99), 14336-token windows score within 5% of 512-token windows on the same text", () => {
    const short = evaluateLength(decay, tokenizer, ids, TRAIN, Infinity);
    const long = decayLong();
    expect(short.windows).toBe(LONG / TRAIN);
    expect(long.windows).toBe(1);
    expect(long.bytes).toBe(short.bytes);
    // A trained byte model, far below the 8 bits of a uniform guess (training reports ~1.6 on this split).
    expect(short.bitsPerByte).toBeLessThan(2.5);
    expect(long.bitsPerByte).toBeLessThanOrEqual(1.05 * short.bitsPerByte);
  });

  it("without its decay (λ = 1), the same weights fall apart past the training length", () => {
    const withDecay = decayLong();
    const without = evaluateLength(noDecay, tokenizer, ids, LONG, Infinity);
    // Every offset then weighs fully, and the RPE's coefficients for the offsets never seen in training (which settle
    // to a constant) add up over the whole window and swamp the local ones.
    expect(without.bitsPerByte).toBeGreaterThan(2 * withDecay.bitsPerByte);
  });
});
