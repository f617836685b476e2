/**
 * Language-model evaluation: cross-entropy of held-out text at a given context length, in bits per byte and
 * perplexity, over non-overlapping windows.
 * @module
 */
import { Tensor } from "../core/tensor.js";
import { type TnnForCausalLM } from "../models/causal-lm.js";
import { type Tokenizer } from "../generate/tokenizer.js";

/** Sum of `-ln p(target)` over rows of `logits` (`[rows, vocab]`, row r predicting `targets[r]`), in float64. */
export function sumNegLogLikelihood(logits: Float32Array, vocab: number, targets: ArrayLike<number>): number {
  let total = 0;
  for (let r = 0; r < targets.length; r++) {
    const off = r * vocab;
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) if (logits[off + j]! > max) max = logits[off + j]!;
    let sum = 0;
    for (let j = 0; j < vocab; j++) sum += Math.exp(logits[off + j]! - max);
    total += max + Math.log(sum) - logits[off + targets[r]!]!;
  }
  return total;
}

/** Result at one context length. */
export interface EvalRow {
  /** Context length (tokens per window). */
  readonly length: number;
  /** Windows evaluated. */
  readonly windows: number;
  /** Tokens predicted. */
  readonly tokens: number;
  /** Bytes of text those tokens stand for. */
  readonly bytes: number;
  /** Total bits over the bytes. */
  readonly bitsPerByte: number;
  /** `exp(mean nats per token)`. */
  readonly perplexity: number;
  /** Wall time in seconds. */
  readonly seconds: number;
}

/** Rows of hidden states sent through the output head at once, so long windows need no `[n, vocab]` logits. */
const HEAD_CHUNK = 256;

/**
 * Evaluates `ids` at context length `length`: windows `ids[w·L .. w·L+L]` predict `ids[w·L+1 .. w·L+L+1]`, each
 * window on its own (no carried state), as the paper's extrapolation test does. `onWindow` reports progress.
 */
export function evaluateLength(
  model: TnnForCausalLM,
  tokenizer: Tokenizer | undefined,
  ids: Int32Array,
  length: number,
  maxWindows: number,
  onWindow?: (done: number, total: number) => void,
  signal?: AbortSignal,
): EvalRow {
  const start = Date.now();
  const windows = Math.min(Math.floor((ids.length - 1) / length), maxWindows);
  const V = model.vocabSize;
  const d = model.config.dModel;
  let nats = 0;
  let tokens = 0;
  let bytes = 0;
  const chunk = Tensor.empty("float32", [HEAD_CHUNK, d]);
  const logits = Tensor.empty("float32", [HEAD_CHUNK, V]);
  try {
    for (let w = 0; w < windows; w++) {
      if (signal?.aborted) break;
      const input = ids.subarray(w * length, w * length + length);
      const targets = ids.subarray(w * length + 1, w * length + length + 1);
      const h = model.hiddenStates(input);
      try {
        for (let r0 = 0; r0 < length; r0 += HEAD_CHUNK) {
          const rows = Math.min(HEAD_CHUNK, length - r0);
          const x = rows === HEAD_CHUNK ? chunk : Tensor.empty("float32", [rows, d]);
          const y = rows === HEAD_CHUNK ? logits : Tensor.empty("float32", [rows, V]);
          try {
            x.data.set(h.data.subarray(r0 * d, (r0 + rows) * d));
            model.head.forward(x, y);
            nats += sumNegLogLikelihood(y.data, V, targets.subarray(r0, r0 + rows));
          } finally {
            if (x !== chunk) x.dispose();
            if (y !== logits) y.dispose();
          }
        }
      } finally {
        h.dispose();
      }
      tokens += targets.length;
      if (tokenizer) for (const t of targets) bytes += tokenizer.tokenBytes(t).length;
      else bytes += targets.length;
      onWindow?.(w + 1, windows);
    }
  } finally {
    chunk.dispose();
    logits.dispose();
  }
  return {
    length,
    windows,
    tokens,
    bytes,
    bitsPerByte: tokens ? nats / Math.LN2 / bytes : NaN,
    perplexity: tokens ? Math.exp(nats / tokens) : NaN,
    seconds: (Date.now() - start) / 1000,
  };
}
