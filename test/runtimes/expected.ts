/**
 * What every runtime's scenario result must equal. The logits are checked against the golden fixture (the float64
 * reference in tools/). Generated tokens, of the fixture model and of the shipped model, are checked against greedy
 * chains computed here, in Node, from the source tree by full forward passes only (argmax of the last position,
 * append, run again), so they share no code with generate()'s incremental decoding; the fixture's first token is
 * also checked against the golden logits directly.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import { expect } from "vitest";
import { repoRoot } from "./packed-project.js";

/** Threads `init()` starts by default on this machine (the runtimes under test run here too). */
export function defaultThreads(): number {
  return Math.min(availableParallelism(), 8);
}

/** The model shipped in the package (models/kjv-byte), in the source tree. */
export const SHIPPED_MODEL = join(repoRoot, "models/kjv-byte/model.safetensors");
import { NEW_TOKENS, PROMPT_LENGTH, SHIPPED_NEW_TOKENS, SHIPPED_PROMPT } from "./scenario.mjs";

/** A small causal LM with f16 weights (the shipped model's storage format). */
export const FIXTURE = "lm_pre_h1_decay_f16";
/** The tolerance: 1e-4 relative to the logits' largest magnitude. */
const RELATIVE_TOLERANCE = 1e-4;

export interface ScenarioResult {
  backend: { build: string; threads: number; simdSupported: boolean; relaxedSimdSupported: boolean; threadsSupported: boolean };
  dims: number[];
  logits: number[];
  tokens: number[];
  shippedTokens: number[];
  shippedText: string;
  wasmMemoryBytes: number;
}

/** A token as the host streamed it out, while generating. */
export interface StreamedToken {
  model: "fixture" | "shipped";
  id: number;
  text?: string;
}

/**
 * A greedy step whose top two logits are closer than this (relative to the largest magnitude) could flip between
 * the FFT forward and incremental decoding; the chain must not contain one, or the comparison would be luck.
 */
const MIN_RELATIVE_MARGIN = 1e-3;

interface Golden {
  ids: number[];
  vocab: number;
  logits: Float32Array;
  maxAbs: number;
}

export function golden(): Golden {
  const dir = join(repoRoot, "test/fixtures", FIXTURE);
  const input = JSON.parse(readFileSync(join(dir, "input.json"), "utf8")) as { ids: number[][]; logits_shape: number[]; max_abs_logit: number };
  const buf = readFileSync(join(dir, "logits.bin"));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const [, n, vocab] = input.logits_shape as [number, number, number];
  return { ids: input.ids[0]!, vocab, logits: all.subarray(0, n * vocab), maxAbs: input.max_abs_logit };
}

function argmax(a: ArrayLike<number>, from: number, len: number): number {
  let best = from;
  for (let i = from + 1; i < from + len; i++) if (a[i]! > a[best]!) best = i;
  return best - from;
}

interface Lm {
  forward(ids: number[]): { toArray(): Float32Array; dispose(): void };
  tokenizer?: { encode(s: string): Int32Array; decode(ids: ArrayLike<number>): string };
  vocabSize: number;
  dispose(): void;
}

/** `count` greedy tokens after `prompt` by repeated full forward passes. */
function greedyChain(model: Lm, prompt: number[], count: number): number[] {
  const seq = [...prompt];
  const out: number[] = [];
  const v = model.vocabSize;
  for (let i = 0; i < count; i++) {
    const logits = model.forward(seq);
    const a = logits.toArray();
    logits.dispose();
    const from = (seq.length - 1) * v;
    const next = argmax(a, from, v);
    let second = -Infinity, maxAbs = 0;
    for (let j = 0; j < v; j++) {
      if (j !== next) second = Math.max(second, a[from + j]!);
      maxAbs = Math.max(maxAbs, Math.abs(a[from + j]!));
    }
    expect(a[from + next]! - second, `greedy step ${i} is a near tie`).toBeGreaterThan(MIN_RELATIVE_MARGIN * maxAbs);
    out.push(next);
    seq.push(next);
  }
  return out;
}

interface Expected {
  tokens: number[];
  shippedTokens: number[];
  shippedText: string;
}

let expected: Expected | undefined;

/** The greedy continuations of both prompts, by the source-tree models. */
export async function expectedTokens(): Promise<Expected> {
  if (expected) return expected;
  const g = golden();
  const tnn = await import("../../ts/index.js");
  const dir = join(repoRoot, "test/fixtures", FIXTURE);
  const model = (await tnn.loadModel(new Uint8Array(readFileSync(join(dir, "model.safetensors"))), {
    config: readFileSync(join(dir, "config.json"), "utf8"),
  })) as unknown as Lm;
  let tokens: number[];
  try {
    tokens = greedyChain(model, g.ids.slice(0, PROMPT_LENGTH), NEW_TOKENS);
  } finally {
    model.dispose();
  }
  const lm = (await tnn.loadModel(SHIPPED_MODEL)) as unknown as Lm;
  try {
    const shippedTokens = greedyChain(lm, Array.from(lm.tokenizer!.encode(SHIPPED_PROMPT)), SHIPPED_NEW_TOKENS);
    expected = { tokens, shippedTokens, shippedText: lm.tokenizer!.decode(shippedTokens) };
  } finally {
    lm.dispose();
  }
  return expected;
}

/** Asserts a runtime's scenario result: golden logits, both greedy chains, and the tokens as they were streamed. */
export async function checkScenario(r: ScenarioResult, streamed?: StreamedToken[]): Promise<void> {
  const g = golden();
  const n = g.ids.length;
  expect(r.dims).toEqual([n, g.vocab]);
  expect(r.logits.length).toBe(n * g.vocab);
  let err = 0;
  for (let i = 0; i < r.logits.length; i++) err = Math.max(err, Math.abs(r.logits[i]! - g.logits[i]!));
  expect(err).toBeLessThanOrEqual(RELATIVE_TOLERANCE * g.maxAbs);
  const want = await expectedTokens();
  // Causal: the golden logits at position PROMPT_LENGTH-1 see only the prompt, so they fix the first token.
  expect(want.tokens[0]).toBe(argmax(g.logits, (PROMPT_LENGTH - 1) * g.vocab, g.vocab));
  expect(r.tokens).toEqual(want.tokens);
  expect(r.shippedTokens).toEqual(want.shippedTokens);
  expect(r.shippedText).toBe(want.shippedText);
  if (streamed) {
    expect(streamed.filter((t) => t.model === "fixture").map((t) => t.id)).toEqual(r.tokens);
    expect(streamed.filter((t) => t.model === "shipped").map((t) => t.id)).toEqual(r.shippedTokens);
  }
}
