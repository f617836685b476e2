/**
 * A small seeded pseudo-random generator for sampling: the same seed gives the same token stream on every engine.
 * @module
 */
import { ValueRangeError } from "../core/errors.js";

/**
 * xoshiro128** (Blackman & Vigna), seeded through splitmix32 so that nearby seeds give unrelated streams.
 * Uses only 32-bit integer arithmetic (`Math.imul`, `>>> 0`), so results are identical across JavaScript engines.
 */
export class Xoshiro128 {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;

  /**
   * @param seed an integer in `[0, 2^53)`; both 32-bit halves feed the state.
   * @throws {ValueRangeError} `seed` is not a non-negative safe integer
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new ValueRangeError(`seed must be a non-negative safe integer, got ${seed}`);
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b9);
    const next = (): number => {
      // splitmix32
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
    // The all-zero state is a fixed point of xoshiro; splitmix32 cannot produce four zeros in a row, but be sure.
    if ((this.#s0 | this.#s1 | this.#s2 | this.#s3) === 0) this.#s0 = 1;
  }

  /** A generator with the raw state words given (not all zero), for checking against published sequences. */
  static fromState(s0: number, s1: number, s2: number, s3: number): Xoshiro128 {
    const g = new Xoshiro128(0);
    if (((s0 | s1 | s2 | s3) >>> 0) === 0) throw new ValueRangeError("xoshiro128 state must not be all zero");
    g.#s0 = s0 | 0;
    g.#s1 = s1 | 0;
    g.#s2 = s2 | 0;
    g.#s3 = s3 | 0;
    return g;
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const s0 = this.#s0, s1 = this.#s1, s2 = this.#s2, s3 = this.#s3;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.#s1 = s1 ^ n2;
    this.#s0 = s0 ^ n3;
    this.#s2 = n2 ^ t;
    this.#s3 = rotl(n3, 11);
    return r;
  }

  /** A uniform float in `[0, 1)` with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A seed from the platform's entropy, for runs where the caller gave none. */
export function randomSeed(): number {
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint32Array) => Uint32Array } }).crypto;
  if (c?.getRandomValues) {
    const a = c.getRandomValues(new Uint32Array(2));
    return (a[0]! & 0x1fffff) * 2 ** 32 + a[1]!;
  }
  return Math.floor(Math.random() * 2 ** 53);
}
