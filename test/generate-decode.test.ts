/**
 * Incremental decoding against the full forward pass: every step's logits must equal the forward's logits at that
 * position (≤ 1e-4 of the largest |logit|), for thousands of steps, crossing many block boundaries of the online
 * scheme and the bucket growth of the states. The fixture's float64 reference (tools/reference.py) is checked too.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { memoryBytes as wasmMemoryBytes } from "../ts/core/wasm.js";
import { DecodeStateError, InvalidOptionError, OutOfMemoryError, ShapeError, ValueRangeError } from "../ts/core/errors.js";
import { heapInUse, memoryBudget, setMemoryBudget } from "../ts/core/memory.js";
import { onlineKernelBytes, onlineStateBytes } from "../ts/core/decode-conv.js";
import { CausalLM } from "../ts/generate/causal-lm.js";
import { type DecodeMode } from "../ts/generate/decode-mode.js";
import { loadModel } from "../ts/generate/load.js";

const FIXTURE = new URL("./fixtures/lm_pre_h2_decay_n8192/", import.meta.url);
let model: CausalLM;
let ids: Int32Array;
let full: Float32Array; // [n, V] logits of the library's forward over the whole sequence
let V: number;
const STEPS = 4200;

beforeAll(async () => {
  const m = await loadModel(new URL("model.safetensors", FIXTURE).pathname);
  if (!(m instanceof CausalLM)) throw new Error("fixture is not a causal LM");
  model = m;
  V = model.vocabSize;
  const input = JSON.parse(readFileSync(new URL("input.json", FIXTURE), "utf8")) as { ids: number[][] };
  ids = Int32Array.from(input.ids[0]!.slice(0, STEPS));
  const logits = model.forward(ids);
  full = logits.toArray();
  logits.dispose();
});

afterAll(() => model?.dispose());

/** Largest |a - b| over row `row` of `[n, vocab]` logits `b`, relative to the row's largest |b|. */
function relativeRowError(a: Float32Array, b: Float32Array, row: number, vocab: number): number {
  let err = 0;
  let max = 0;
  for (let j = 0; j < vocab; j++) {
    const x = b[row * vocab + j]!;
    err = Math.max(err, Math.abs(a[j]! - x));
    max = Math.max(max, Math.abs(x));
  }
  return err / max;
}

/** {@link relativeRowError} against the fixture model's full forward. */
const rowError = (a: Float32Array, full: Float32Array, row: number): number => relativeRowError(a, full, row, V);

/** Prefills `prompt` tokens, steps through the rest, returns the worst relative error over all positions. */
function decodeError(mode: DecodeMode, prompt: number, maxLength: number, steps = STEPS): { worst: number; at: number } {
  const dec = model.decoder({ mode, maxLength });
  try {
    let worst = rowError(dec.prefill(ids.subarray(0, prompt)), full, prompt - 1);
    let at = prompt - 1;
    for (let t = prompt; t < steps; t++) {
      const e = rowError(dec.step(ids[t]!), full, t);
      if (e > worst) [worst, at] = [e, t];
    }
    expect(dec.position).toBe(steps);
    return { worst, at };
  } finally {
    dec.dispose();
  }
}

describe("incremental decoding equals the full forward", () => {
  it("online mode, ≥ 4000 steps after a 1-token prompt", () => {
    const { worst, at } = decodeError("online", 1, STEPS);
    expect(worst, `worst at position ${at}`).toBeLessThanOrEqual(1e-4);
  });

  it("naive mode, ≥ 4000 steps after a 1-token prompt", () => {
    const { worst, at } = decodeError("naive", 1, STEPS);
    expect(worst, `worst at position ${at}`).toBeLessThanOrEqual(1e-4);
  });

  it("online mode after a 777-token FFT prefill, growing through the buckets", () => {
    const { worst, at } = decodeError("online", 777, 300);
    expect(worst, `worst at position ${at}`).toBeLessThanOrEqual(1e-4);
  });

  it("naive mode with growth from a small bucket", () => {
    const { worst, at } = decodeError("naive", 5, 10, 1500);
    expect(worst, `worst at position ${at}`).toBeLessThanOrEqual(1e-4);
  });

  it("matches the float64 reference at the fixture's positions", () => {
    const input = JSON.parse(readFileSync(new URL("input.json", FIXTURE), "utf8")) as { positions: number[]; max_abs_logit: number };
    // A Buffer may be a view into a larger (pooled) ArrayBuffer: copy exactly its own bytes.
    const bin = readFileSync(new URL("logits.bin", FIXTURE));
    const ref = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength));
    const wanted = new Map(input.positions.map((p, i) => [p, i]));
    const dec = model.decoder({ maxLength: STEPS });
    let checked = 0;
    try {
      const check = (logits: Float32Array, pos: number): void => {
        const i = wanted.get(pos);
        if (i === undefined) return;
        for (let j = 0; j < V; j++) expect(Math.abs(logits[j]! - ref[i * V + j]!)).toBeLessThanOrEqual(1e-4 * input.max_abs_logit);
        checked++;
      };
      check(dec.prefill(ids.subarray(0, 1)), 0);
      for (let t = 1; t < STEPS; t++) check(dec.step(ids[t]!), t);
    } finally {
      dec.dispose();
    }
    expect(checked).toBeGreaterThan(40);
  });
});

describe("ETSC mode", () => {
  it("is exact within its window", () => {
    const window = 1024;
    const dec = model.decoder({ mode: "etsc", etscWindow: window });
    try {
      let worst = rowError(dec.prefill(ids.subarray(0, 100)), full, 99);
      for (let t = 100; t < window; t++) worst = Math.max(worst, rowError(dec.step(ids[t]!), full, t));
      expect(worst).toBeLessThanOrEqual(1e-4);
      expect(dec.capacity).toBe(Infinity);
    } finally {
      dec.dispose();
    }
  });

  it("drifts from the exact output past its window, as documented", () => {
    const window = 64;
    const dec = model.decoder({ mode: "etsc", etscWindow: window });
    try {
      let inside = rowError(dec.prefill(ids.subarray(0, 1)), full, 0);
      let beyond = 0;
      for (let t = 1; t < 1000; t++) {
        const e = rowError(dec.step(ids[t]!), full, t);
        if (t < window) inside = Math.max(inside, e);
        else beyond = Math.max(beyond, e);
      }
      expect(inside).toBeLessThanOrEqual(1e-4);
      // This fixture's decays (λ up to 0.999) keep offsets ≥ 64 significant, so the periodic kernel shows.
      expect(beyond).toBeGreaterThan(1e-2);
    } finally {
      dec.dispose();
    }
  });
});

describe("decoder API", () => {
  it("shares kernels per bucket and keeps per-step memory flat", () => {
    const a = model.decoder({ maxLength: 1000 });
    const b = model.decoder({ maxLength: 1000 });
    try {
      const kernelBytes = model.decodeKernels.memoryBytes;
      expect(kernelBytes).toBeGreaterThan(0);
      a.prefill([1, 2, 3]);
      b.prefill([1, 2, 3]);
      // A second sequence of the same bucket builds no new kernels.
      expect(model.decodeKernels.memoryBytes).toBe(kernelBytes);
      a.step(0);
      const wasmBytes = wasmMemoryBytes();
      for (let t = 1; t < 500; t++) a.step(t % V);
      // Steps allocate nothing: the linear memory (which only ever grows) stays the same size.
      expect(wasmMemoryBytes()).toBe(wasmBytes);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it("reset() starts a new sequence that decodes like a fresh one", () => {
    const dec = model.decoder({ maxLength: 64 });
    try {
      dec.prefill(ids.subarray(0, 10));
      for (let t = 10; t < 40; t++) dec.step(ids[t]!);
      dec.reset();
      expect(dec.position).toBe(0);
      expect(rowError(dec.prefill(ids.subarray(0, 3)), full, 2)).toBeLessThanOrEqual(1e-4);
      expect(rowError(dec.step(ids[3]!), full, 3)).toBeLessThanOrEqual(1e-4);
    } finally {
      dec.dispose();
    }
  });

  it("a growth refused by the memory budget frees the outgrown states and leaves the decoder broken until reset()", async () => {
    // A model of its own: the shared one's idle cached kernels would be trimmed to make room.
    const own = await loadModel(new URL("model.safetensors", FIXTURE).pathname);
    const dec = own.decoder({ maxLength: 64 });
    const budget = memoryBudget();
    try {
      dec.prefill(ids.subarray(0, 10));
      for (let t = 10; t < 64; t++) dec.step(ids[t]!);
      // Room for the histories the growth copies out, not for the next bucket's states and kernels.
      setMemoryBudget(heapInUse() + dec.memoryBytes);
      expect(() => dec.step(ids[64]!)).toThrow(OutOfMemoryError);
      expect(dec.memoryBytes).toBe(0);
      expect(() => dec.step(ids[64]!)).toThrow(DecodeStateError);
      setMemoryBudget(budget);
      dec.reset();
      expect(rowError(dec.prefill(ids.subarray(0, 70)), full, 69)).toBeLessThanOrEqual(1e-4);
      expect(rowError(dec.step(ids[70]!), full, 70)).toBeLessThanOrEqual(1e-4);
    } finally {
      setMemoryBudget(budget);
      dec.dispose();
      own.dispose();
    }
  });

  it("a kernel build refused part-way through the layers frees the layers already built", async () => {
    const own = await loadModel(new URL("model.safetensors", FIXTURE).pathname);
    const budget = memoryBudget();
    try {
      const cap = 8192;
      const [c0, c1] = own.body.layers.map((l) => l.tno.channels);
      // Room for the first layer's coefficients (4 bytes per lag and channel), then its kernel; not for the second
      // layer's coefficients next to that kernel.
      const kernel0 = onlineKernelBytes(cap, cap, c0!);
      expect(kernel0).toBeGreaterThan(4 * cap * c0!);
      const before = heapInUse();
      setMemoryBudget(before + kernel0 + 2 * cap * c1!);
      expect(() => own.decodeKernels.online(cap)).toThrow(OutOfMemoryError);
      expect(heapInUse()).toBe(before);
      expect(own.decodeKernels.memoryBytes).toBe(0);
    } finally {
      setMemoryBudget(budget);
      own.dispose();
    }
  });

  it("writes logits into a caller's array when given one", () => {
    const dec = model.decoder({ maxLength: 64 });
    const out = new Float32Array(V);
    try {
      expect(dec.prefill(ids.subarray(0, 5), out)).toBe(out);
      expect(rowError(out, full, 4)).toBeLessThanOrEqual(1e-4);
      for (let t = 5; t < 20; t++) {
        expect(dec.step(ids[t]!, out)).toBe(out);
        expect(rowError(out, full, t)).toBeLessThanOrEqual(1e-4);
      }
      expect(() => dec.step(ids[20]!, new Float32Array(V - 1))).toThrow(ShapeError);
      // A rejected call consumed nothing.
      expect(dec.position).toBe(20);
    } finally {
      dec.dispose();
    }
  });

  it("rejects misuse with typed errors", () => {
    expect(() => model.decoder({ mode: "fast" as never })).toThrow(InvalidOptionError);
    expect(() => model.decoder({ maxLength: 0 })).toThrow(ValueRangeError);
    expect(() => model.decoder({ window: 3 } as never)).toThrow(InvalidOptionError);
    const dec = model.decoder({ maxLength: 16 });
    try {
      expect(() => dec.step(1)).toThrow(DecodeStateError);
      expect(() => dec.prefill([])).toThrow(ValueRangeError);
      expect(() => dec.prefill([V])).toThrow(ValueRangeError);
      dec.prefill([1]);
      expect(() => dec.prefill([1])).toThrow(DecodeStateError);
      expect(() => dec.step(-1)).toThrow(ValueRangeError);
    } finally {
      dec.dispose();
    }
  });
});

describe("a post-norm LM decodes exactly", () => {
  it("teacher-forced steps equal its full forward over 3,000 positions", async () => {
    const post = await loadModel(new URL("./fixtures/lm_post_h1_decay/model.safetensors", import.meta.url).pathname);
    try {
      expect(post.config.prenorm).toBe(false);
      const Vp = post.vocabSize;
      const seq = Int32Array.from({ length: 3000 }, (_, i) => (i * 7919 + ((i * i) % 13)) % Vp);
      const all = post.forward(seq);
      const want = all.toArray();
      all.dispose();
      const dec = post.decoder();
      let worst = 0;
      const err = (got: Float32Array, row: number): number => relativeRowError(got, want, row, Vp);
      try {
        worst = err(dec.prefill(seq.subarray(0, 3)), 2);
        const out = new Float32Array(Vp);
        for (let t = 3; t < seq.length; t++) worst = Math.max(worst, err(dec.step(seq[t]!, out), t));
      } finally {
        dec.dispose();
      }
      expect(worst).toBeLessThanOrEqual(1e-4);
    } finally {
      post.dispose();
    }
  });
});

describe("decoding where memory is short", () => {
  const POST = new URL("./fixtures/lm_post_h1_decay/model.safetensors", import.meta.url).pathname;

  it("a limit with no room for full kernels: one state sized to it, short kernels, the full forward's logits", async () => {
    const post = await loadModel(POST);
    const budget = memoryBudget();
    try {
      const Vp = post.vocabSize;
      const channels = post.body.layers.map((l) => l.tno.channels);
      const sum = channels.reduce((a, b) => a + b, 0);
      // Below both layers' windows (1,661 and 1,896), so exact states all the way; a limit that is no power of two.
      const limit = 1500;
      expect(Math.min(...post.body.layers.map((l) => l.tno.window))).toBeGreaterThan(limit);
      const seq = Int32Array.from({ length: limit }, (_, i) => (i * 7919 + ((i * i) % 13)) % Vp);
      const all = post.forward(seq);
      const want = all.toArray();
      all.dispose();
      // Room for states of `limit` rows on short kernels (64 rows) plus one layer's far lags, not for the full
      // kernels of the 2,048 bucket (4 bytes per lag and channel, plus block spectra).
      const bytes = (kernelRows: number, far: number): number =>
        channels.reduce((s, c) => s + onlineKernelBytes(kernelRows, 2048, c) + onlineStateBytes(limit, 2048, c), far);
      const [short, fullBytes] = [bytes(64, 4 * limit * Math.max(...channels)), bytes(2048, 0)];
      expect(short).toBeLessThan(fullBytes);
      setMemoryBudget(heapInUse() + Math.floor((short + fullBytes) / 2));
      const dec = post.decoder({ maxLength: 10, limit });
      try {
        // Sized once to the limit (a growing decoder would start at the 64 bucket), holding no full kernels.
        expect(dec.capacity).toBe(limit);
        expect(dec.memoryBytes).toBeGreaterThanOrEqual(4 * limit * sum);
        expect(dec.memoryBytes).toBeLessThan(4 * limit * sum + 2 * 2 ** 20);
        expect(post.decodeKernels.memoryBytes).toBe(0);
        const err = (got: Float32Array, row: number): number => relativeRowError(got, want, row, Vp);
        // A prompt past the kernels' 64 rows: the prefill's FFT reads lags from the RPE too.
        let worst = err(dec.prefill(seq.subarray(0, 100)), 99);
        const out = new Float32Array(Vp);
        for (let t = 100; t < limit; t++) worst = Math.max(worst, err(dec.step(seq[t]!, out), t));
        expect(worst).toBeLessThanOrEqual(1e-4);
        expect(dec.capacity).toBe(limit);
        expect(() => dec.step(seq[0]!, out)).toThrow(DecodeStateError);
        expect(dec.position).toBe(limit);
      } finally {
        dec.dispose();
      }
    } finally {
      setMemoryBudget(budget);
      post.dispose();
    }
  });

  it("a limit with room: the states grow through the buckets as before, but never past it", () => {
    const dec = model.decoder({ maxLength: 10, limit: 100 });
    try {
      expect(dec.capacity).toBe(64);
      dec.prefill(ids.subarray(0, 60));
      for (let t = 60; t < 100; t++) expect(rowError(dec.step(ids[t]!), full, t)).toBeLessThanOrEqual(1e-4);
      expect(dec.capacity).toBe(100);
      expect(() => dec.step(ids[100]!)).toThrow(DecodeStateError);
      expect(() => model.decoder({ limit: 0 })).toThrow(ValueRangeError);
      expect(() => model.decoder({ limit: 1.5 })).toThrow(ValueRangeError);
    } finally {
      dec.dispose();
    }
  });
});
