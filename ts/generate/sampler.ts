/**
 * Picking the next token from a row of logits: repetition penalty, temperature, top-k, top-p, then a draw from a
 * seeded generator. Separate from the model and from the decode state.
 * @module
 */
import { InvalidOptionError, ShapeError, ValueRangeError } from "../core/errors.js";
import { Xoshiro128, randomSeed } from "./prng.js";

/** How to choose each token. */
export interface SamplerOptions {
  /** Softmax temperature, `>= 0`. `0` picks the most likely token (greedy). Default 1. */
  temperature?: number;
  /** Keep only the `topK` most likely tokens; `0` (default) keeps all. A non-negative integer. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability sums to at least `topP`, in `(0, 1]`. Default 1. */
  topP?: number;
  /**
   * CTRL-style penalty, `> 0`: the logit of a token already in the context is divided by it when positive and
   * multiplied by it when negative, so values above 1 discourage repeats. `1` (default) disables it.
   */
  repetitionPenalty?: number;
  /** Seed of the random generator, a non-negative safe integer. The same seed gives the same tokens. Default: random. */
  seed?: number;
}

const SAMPLER_KEYS = ["temperature", "topK", "topP", "repetitionPenalty", "seed"] as const;

/** Checks sampler options; throws the typed error naming the option. Returns the options with defaults filled in. */
export function resolveSamplerOptions(o: SamplerOptions, where = "sampler"): Required<SamplerOptions> {
  const temperature = o.temperature ?? 1;
  if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature < 0) {
    throw new ValueRangeError(`${where}: temperature must be a finite number >= 0, got ${String(temperature)}`);
  }
  const topK = o.topK ?? 0;
  if (typeof topK !== "number" || !Number.isSafeInteger(topK) || topK < 0) {
    throw new ValueRangeError(`${where}: topK must be an integer >= 0 (0 = no limit), got ${String(topK)}`);
  }
  const topP = o.topP ?? 1;
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) {
    throw new ValueRangeError(`${where}: topP must be a number in (0, 1], got ${String(topP)}`);
  }
  const repetitionPenalty = o.repetitionPenalty ?? 1;
  if (typeof repetitionPenalty !== "number" || !Number.isFinite(repetitionPenalty) || repetitionPenalty <= 0) {
    throw new ValueRangeError(`${where}: repetitionPenalty must be a finite number > 0, got ${String(repetitionPenalty)}`);
  }
  const seed = o.seed ?? randomSeed();
  if (typeof seed !== "number" || !Number.isSafeInteger(seed) || seed < 0) {
    throw new ValueRangeError(`${where}: seed must be a non-negative safe integer, got ${String(seed)}`);
  }
  return { temperature, topK, topP, repetitionPenalty, seed };
}

/**
 * Chooses tokens from logits. Holds its random generator and the set of tokens seen so far (for the repetition
 * penalty), so use one sampler per generated sequence.
 */
export class Sampler {
  readonly options: Readonly<Required<SamplerOptions>>;
  readonly vocabSize: number;
  readonly #rng: Xoshiro128;
  readonly #seen: Uint8Array;
  readonly #scratch: Float32Array;
  readonly #order: Int32Array;
  readonly #probs: Float64Array;

  /**
   * @param vocabSize length of every logits row
   * @throws {InvalidOptionError} an unknown option key
   * @throws {ValueRangeError} an option out of range
   */
  constructor(vocabSize: number, options: SamplerOptions = {}) {
    if (!Number.isSafeInteger(vocabSize) || vocabSize < 1) throw new ValueRangeError(`Sampler: vocabSize must be a positive integer, got ${vocabSize}`);
    if (options === null || typeof options !== "object") throw new InvalidOptionError("Sampler: options must be an object");
    for (const k of Object.keys(options)) {
      if (!(SAMPLER_KEYS as readonly string[]).includes(k)) {
        throw new InvalidOptionError(`Sampler: unknown option "${k}"; expected one of ${SAMPLER_KEYS.join(", ")}`);
      }
    }
    this.options = Object.freeze(resolveSamplerOptions(options, "Sampler"));
    this.vocabSize = vocabSize;
    this.#rng = new Xoshiro128(this.options.seed);
    this.#seen = new Uint8Array(vocabSize);
    this.#scratch = new Float32Array(vocabSize);
    this.#order = new Int32Array(vocabSize);
    this.#probs = new Float64Array(vocabSize);
  }

  /**
   * Marks tokens as part of the context (the prompt, and each chosen token is added by {@link sample} itself), so
   * the repetition penalty applies to them.
   * @throws {ValueRangeError} an id outside the vocabulary
   */
  observe(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new ValueRangeError(`Sampler: token id ${id} is outside [0, ${this.vocabSize})`);
      this.#seen[id] = 1;
    }
  }

  /**
   * Picks the next token from one row of logits and records it as seen.
   * @throws {ShapeError} `logits` is not `vocabSize` long
   * @throws {ValueRangeError} `logits` holds NaN
   */
  sample(logits: ArrayLike<number>): number {
    const v = this.vocabSize;
    if (logits.length !== v) throw new ShapeError(`Sampler.sample: expected ${v} logits, got ${logits.length}`);
    const { temperature, topK, topP, repetitionPenalty } = this.options;
    const z = this.#scratch;
    const seen = this.#seen;
    for (let i = 0; i < v; i++) {
      let x = logits[i]!;
      if (x !== x) throw new ValueRangeError(`Sampler.sample: logit ${i} is NaN`);
      if (repetitionPenalty !== 1 && seen[i]) x = x > 0 ? x / repetitionPenalty : x * repetitionPenalty;
      z[i] = x;
    }
    const id = temperature === 0 ? argmax(z) : this.#draw(z, temperature, topK, topP);
    seen[id] = 1;
    return id;
  }

  #draw(z: Float32Array, temperature: number, topK: number, topP: number): number {
    const v = this.vocabSize;
    const order = this.#order;
    const probs = this.#probs;
    // Candidates, most likely first when top-k or top-p needs an order; otherwise all of them in id order.
    let count = v;
    if (topK > 0 && topK < v) {
      count = topKIndices(z, topK, order);
    } else {
      for (let i = 0; i < v; i++) order[i] = i;
      if (topP < 1) sortByLogitDesc(order, v, z);
    }
    const max = maxOver(z, order, count);
    if (max === -Infinity) return order[0]!; // every logit is -inf: nothing to prefer
    let total = 0;
    for (let j = 0; j < count; j++) {
      const p = Math.exp((z[order[j]!]! - max) / temperature);
      probs[j] = p;
      total += p;
    }
    if (topP < 1) {
      // order[0..count) is sorted by logit, so probs are descending: keep the shortest prefix reaching topP.
      let acc = 0;
      let keep = 0;
      while (keep < count) {
        acc += probs[keep]!;
        keep++;
        if (acc >= topP * total) break;
      }
      count = keep;
      total = acc;
    }
    let r = this.#rng.nextFloat() * total;
    for (let j = 0; j < count; j++) {
      r -= probs[j]!;
      if (r < 0) return order[j]!;
    }
    // Rounding left r a hair above zero: the last candidate with non-zero mass.
    for (let j = count - 1; j > 0; j--) if (probs[j]! > 0) return order[j]!;
    return order[0]!;
  }
}

/** Index of the largest value; the lowest index among ties, so greedy decoding is deterministic. */
export function argmax(z: ArrayLike<number>): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < z.length; i++) {
    const x = z[i]!;
    if (x > bv) {
      bv = x;
      best = i;
    }
  }
  return best;
}

function maxOver(z: Float32Array, order: Int32Array, count: number): number {
  let m = -Infinity;
  for (let j = 0; j < count; j++) {
    const x = z[order[j]!]!;
    if (x > m) m = x;
  }
  return m;
}

/** Writes the ids of the k largest logits into out[0..k), largest first (ties: lower id first). Returns k. */
function topKIndices(z: Float32Array, k: number, out: Int32Array): number {
  // A min-heap of the best k so far, keyed by (logit, -id) so ties resolve the same way every run.
  const heap = out;
  let size = 0;
  const less = (a: number, b: number): boolean => z[a]! < z[b]! || (z[a] === z[b] && a > b);
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < size && less(heap[l]!, heap[m]!)) m = l;
      if (r < size && less(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      const t = heap[i]!;
      heap[i] = heap[m]!;
      heap[m] = t;
      i = m;
    }
  };
  for (let id = 0; id < z.length; id++) {
    if (size < k) {
      let i = size++;
      heap[i] = id;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!less(heap[i]!, heap[p]!)) break;
        const t = heap[i]!;
        heap[i] = heap[p]!;
        heap[p] = t;
        i = p;
      }
    } else if (less(heap[0]!, id)) {
      heap[0] = id;
      siftDown(0);
    }
  }
  sortByLogitDesc(heap, size, z);
  return size;
}

function sortByLogitDesc(ids: Int32Array, count: number, z: Float32Array): void {
  ids.subarray(0, count).sort((a, b) => z[b]! - z[a]! || a - b);
}
