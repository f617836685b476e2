// Every official TNN architecture against the official code itself: fixtures made by tools/official_fixtures.py,
// which builds each fairseq-evo architecture as fairseq does, fills it with random weights and runs it in float64.
// Loaded from the architecture the file's metadata records, each must match within 1e-4 of its largest |logit|;
// language models must also decode exactly (teacher-forced steps equal the forward) and reproduce the official
// greedy continuation.
import { readFileSync, readdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init } from "../ts/core/index.js";
import { CausalLM } from "../ts/generate/causal-lm.js";
import { loadModel } from "../ts/generate/load.js";
import { TnnEncoder } from "../ts/models/encoder.js";
import { maxDiff } from "./helpers/reference64.js";
import { editHeader } from "./helpers/safetensors-writer.js";

const DIR = new URL("./fixtures/official/", import.meta.url);

interface Official {
  name: string;
  weights: string;
  arch: string;
  ids: number[][];
  positions: number[] | null;
  shape: [number, number, number];
  maxAbs: number;
  output: "logits" | "log_probs";
  greedy?: { prompt: number[]; tokens: number[] };
  logits: Float32Array;
}

function read(name: string): Official {
  const dir = new URL(`${name}/`, DIR);
  const input = JSON.parse(readFileSync(new URL("input.json", dir), "utf8"));
  const raw = readFileSync(new URL("logits.bin", dir));
  return {
    name,
    weights: new URL("model.safetensors", dir).pathname,
    arch: input.arch,
    ids: input.ids,
    positions: input.positions,
    shape: input.logits_shape,
    maxAbs: input.max_abs_logit,
    output: input.output,
    greedy: input.greedy,
    logits: new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
  };
}

const names = readdirSync(DIR, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

/** Rows `positions` (or all) of `[batch, n, V]`. */
function pick(all: Float32Array, batch: number, n: number, V: number, positions: number[] | null): Float32Array {
  if (!positions) return all;
  const out = new Float32Array(batch * positions.length * V);
  for (let b = 0; b < batch; b++) positions.forEach((p, i) => out.set(all.subarray((b * n + p) * V, (b * n + p + 1) * V), (b * positions.length + i) * V));
  return out;
}

/** The measured error of each fixture, max |Δ| / max |official|, for the architectures table. */
const measured = new Map<string, number>();

beforeAll(async () => {
  await init();
});

afterAll(() => {
  // The figures of docs/official-architectures.md's table.
  if (measured.size) console.log([...measured].map(([n, e]) => `${n}: ${e.toExponential(1)}`).join("\n"));
});

describe("official architectures (fairseq-evo, float64)", () => {
  it("covers the 20 registered architectures", () => {
    const archs = new Set(names.map((n) => read(n).arch));
    expect(archs.size).toBe(20);
  });

  for (const name of names) {
    it(`${name}: logits match the official code`, async () => {
      const fx = read(name);
      const model = await loadModel(fx.weights, { kind: "auto" });
      try {
        expect(model.config.arch).toBe(fx.arch);
        const [batch, , V] = fx.shape;
        const n = fx.ids[0]!.length;
        using out = fx.positions && batch === 1 && model instanceof CausalLM ? model.forward(fx.ids) : model.forward(fx.ids);
        const got = pick(out.toArray(), batch, n, V, fx.positions);
        const { diff, scale } = maxDiff(got, fx.logits);
        measured.set(name, diff / scale);
        expect(diff, `${name}: max |Δ| ${diff} vs max |official| ${scale}`).toBeLessThanOrEqual(1e-4 * scale);
      } finally {
        model.dispose();
      }
    });
  }

  for (const name of names.filter((n) => read(n).greedy)) {
    it(`${name}: decodes exactly and continues the prompt as the official greedy loop does`, async () => {
      const fx = read(name);
      const model = await loadModel(fx.weights, { tokenizer: "none" });
      try {
        const seq = Int32Array.from(fx.ids[0]!);
        using all = model.forward(seq);
        const want = all.toArray();
        const V = model.vocabSize;
        const dec = model.decoder();
        try {
          let worst = 0;
          let scale = 0;
          const check = (got: Float32Array, row: number): void => {
            for (let j = 0; j < V; j++) {
              worst = Math.max(worst, Math.abs(got[j]! - want[row * V + j]!));
              scale = Math.max(scale, Math.abs(want[row * V + j]!));
            }
          };
          check(dec.prefill(seq.subarray(0, 3)), 2);
          for (let t = 3; t < seq.length; t++) check(dec.step(seq[t]!), t);
          expect(worst).toBeLessThanOrEqual(1e-4 * scale);
        } finally {
          dec.dispose();
        }
        const tokens: number[] = [];
        for await (const t of model.generate(fx.greedy!.prompt, { maxNewTokens: fx.greedy!.tokens.length, temperature: 0, stopTokens: [] })) tokens.push(t.id);
        expect(tokens).toEqual(fx.greedy!.tokens);
      } finally {
        model.dispose();
      }
    });
  }

  it("encoders: padded batches (compared above) and the sentence classification head", async () => {
    const encoders = names.filter((n) => read(n).arch.startsWith("roberta") && read(n).ids.length > 1);
    expect(encoders.length).toBeGreaterThanOrEqual(3);
    for (const name of encoders) {
      const fx = read(name);
      const cls = (JSON.parse(readFileSync(new URL(`${name}/input.json`, DIR), "utf8")) as { classify: { head: string; logits: number[][] } }).classify;
      expect(fx.ids[1]!.includes(1), `${name} has a padded row`).toBe(true);
      const model = await loadModel(fx.weights, { kind: "encoder" });
      try {
        expect(model).toBeInstanceOf(TnnEncoder);
        using got = model.classify(fx.ids, { head: cls.head });
        const { diff, scale } = maxDiff(got.toArray(), cls.logits.flat());
        expect(diff, name).toBeLessThanOrEqual(1e-4 * Math.max(scale, 1e-3));
      } finally {
        model.dispose();
      }
    }
  });
});

/** The file's bytes with `__metadata__` removed: what a checkpoint converted by another tool looks like. */
function withoutMetadata(path: string): Uint8Array {
  return editHeader(new Uint8Array(readFileSync(path)), (header) => delete header.__metadata__);
}

/** Settings no tensor shows: without a recorded architecture these load as the paper's configuration instead. */
const INVISIBLE: Readonly<Record<string, string>> = {
  tnn_no_decay: "GTU v1 (its inner norm and residual have no parameters)",
  tnn_decay_99: "GTU v1",
  tnn_decay_99_n3000: "GTU v1",
  roberta_tnn_decay_99: "GTU v1",
  tnn_v2_decay_99_post_usenorm: "use_norm (a parameter-free norm)",
  tnn_v2_decay_99_pre_usenorm: "use_norm",
};

describe("official architectures without recorded metadata", () => {
  for (const name of names) {
    const invisible = INVISIBLE[name];
    it(`${name}: ${invisible ? `loads as the paper's configuration (${invisible} cannot be seen)` : "the config inferred from the weights gives the official logits"}`, async () => {
      const fx = read(name);
      const model = await loadModel(withoutMetadata(fx.weights), { kind: "auto" });
      try {
        expect(model.config.arch).toBeNull();
        if (invisible) {
          expect(model.config.gtu).toBe("v2");
          expect(model.config.gtuNorm).toBe(false);
          return;
        }
        const [batch, , V] = fx.shape;
        using out = model.forward(fx.ids);
        const { diff, scale } = maxDiff(pick(out.toArray(), batch, fx.ids[0]!.length, V, fx.positions), fx.logits);
        expect(diff).toBeLessThanOrEqual(1e-4 * scale);
      } finally {
        model.dispose();
      }
    });
  }
});
