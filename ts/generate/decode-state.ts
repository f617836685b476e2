/**
 * One sequence being decoded: a convolution state per layer, separate from the model's weights. A prompt and a
 * step run the model's one body forward with these states as the layers' sequence mixers, so every block variant
 * (pre- or post-norm, any GTU or GLU) decodes exactly as its full forward computes.
 * @module
 */
import {
  type ConvState,
  etscConvState,
  naiveConvState,
  OnlineKernelHandle,
  onlineConvState,
  onlineKernelBytes,
  onlineStateBytes,
  windowConvState,
} from "../core/decode-conv.js";
import { fits, reserve } from "../core/memory.js";
import { windowBytes } from "../nn/decay-window.js";
import { DecodeStateError, DisposedError, DTypeError, InvalidOptionError, ShapeError, ValueRangeError } from "../core/errors.js";
import { Tensor } from "../core/tensor.js";
import { headRows } from "../models/batch.js";
import { PIPELINE_BLOCK, type TnnBody } from "../models/tnn-body.js";
import { type SequenceMixer } from "../nn/sequence-mixer.js";
import { type DecodeKernelCache, type KernelLease, lengthBucket } from "./decode-kernels.js";
import { DECODE_MODES, type DecodeMode } from "./decode-mode.js";
import { DEFAULT_ETSC_WINDOW } from "./generate-options.js";
import { type StepDecoder, type StepDecoderOptions } from "./generate.js";
import { checkIds } from "./tokenizer.js";

type F32 = Tensor<"float32">;

/** The parts of a causal LM that decoding runs. */
export interface DecodableModel {
  readonly body: TnnBody;
  /** Hidden states `[n, d]` to logits `[n, vocab]`. */
  readonly head: { forward(x: F32, out?: F32): F32 };
  readonly vocabSize: number;
}

/** Default {@link StepDecoderOptions.maxLength} of a decoder made without one: the smallest length bucket's worth. */
export const DEFAULT_DECODER_MAX_LENGTH = 64;

/** What a decoder holds between freeing one set of states and making the next. */
const NO_LEASE: KernelLease<unknown> = { kernels: [], release: () => undefined };

/** One layer's convolution state as the sequence mixer of that layer: each call consumes the rows that come next. */
class LayerMixer implements SequenceMixer {
  constructor(readonly state: ConvState) {}

  mix(v: F32): F32 {
    const n = v.dims[0]!;
    const y = Tensor.empty("float32", v.dims);
    try {
      if (this.state.push) this.state.push(v, y);
      else if (this.state.position === 0) this.state.prefill(v, n, y);
      else if (n === 1) this.state.step(v, y);
      else throw new DecodeStateError(`a decode state takes a prompt once, then one token at a time; got ${n} tokens at position ${this.state.position}`);
    } catch (e) {
      y.dispose();
      throw e;
    }
    return y;
  }
}

/**
 * The decode state of one sequence. Create it with `model.decoder()`; `prefill(prompt)` then `step(id)` repeatedly.
 *
 * Exact modes (`"online"`, `"naive"`) size their states to a power-of-two length bucket, starting from `maxLength`
 * (a hint, default 64); a sequence that outgrows its bucket moves to the next one (a one-off re-prefill of the layer
 * histories), so memory follows the tokens actually decoded.
 *
 * With a `limit` (as `generate()` gives: prompt plus new tokens), no state holds more than `limit` positions. And
 * where the full kernels for that many would not fit the memory budget, `"online"` decoding sizes one state per
 * layer to exactly `limit` positions at the start (4 bytes per position and channel, never moved) and keeps short
 * kernels that evaluate the RPE when a block reads lags past them (see {@link DecodeKernelCache.onlineShort}): how a
 * paper-size model decodes a thousand tokens inside a Worker's 128 MB.
 */
export class DecodeState implements StepDecoder {
  readonly mode: DecodeMode;
  readonly #model: DecodableModel;
  readonly #cache: DecodeKernelCache;
  readonly #etscWindow: number;
  readonly #useWindow: boolean;
  readonly #limit: number;
  /** Short kernels and states sized to the limit: chosen once, when the full ones would not fit. */
  readonly #short: boolean;
  #lease: KernelLease<unknown>;
  #mixers: LayerMixer[];
  #position = 0;
  #disposed = false;
  /** Set when a call failed half-way through the layers: the states no longer agree on the position. */
  #broken = false;

  /**
   * @throws {InvalidOptionError} unknown option or mode, or a model whose layers are not causal
   * @throws {ValueRangeError} maxLength, limit or etscWindow out of range
   * @throws {OutOfMemoryError} the first states do not fit the memory budget
   */
  constructor(model: DecodableModel, cache: DecodeKernelCache, options: StepDecoderOptions = {}) {
    if (options === null || typeof options !== "object") throw new InvalidOptionError("decoder: options must be an object");
    for (const k of Object.keys(options)) {
      if (!["mode", "maxLength", "limit", "etscWindow", "window"].includes(k)) {
        throw new InvalidOptionError(`decoder: unknown option "${k}"; expected mode, maxLength, limit, etscWindow, window`);
      }
    }
    if (options.window !== undefined && typeof options.window !== "boolean") throw new InvalidOptionError(`decoder: window must be a boolean, got ${String(options.window)}`);
    const mode = options.mode ?? "online";
    if (!DECODE_MODES.includes(mode)) throw new InvalidOptionError(`decoder: mode must be one of ${DECODE_MODES.join(", ")}, got ${String(mode)}`);
    const maxLength = options.maxLength ?? DEFAULT_DECODER_MAX_LENGTH;
    if (!Number.isSafeInteger(maxLength) || maxLength < 1 || maxLength > 2 ** 26) {
      throw new ValueRangeError(`decoder: maxLength must be an integer in [1, 2^26], got ${String(maxLength)}`);
    }
    const limit = options.limit ?? Infinity;
    if (limit !== Infinity && (!Number.isSafeInteger(limit) || limit < 1 || limit > 2 ** 26)) {
      throw new ValueRangeError(`decoder: limit must be an integer in [1, 2^26], got ${String(limit)}`);
    }
    const etscWindow = options.etscWindow ?? DEFAULT_ETSC_WINDOW;
    if (!Number.isSafeInteger(etscWindow) || etscWindow < 1 || etscWindow > 2 ** 20) {
      throw new ValueRangeError(`decoder: etscWindow must be an integer in [1, 2^20], got ${String(etscWindow)}`);
    }
    for (const [i, b] of model.body.layers.entries()) {
      if (!b.tno.causal) throw new InvalidOptionError(`decoder: layer ${i} mixes bidirectionally; only causal LMs decode`);
    }
    this.mode = mode;
    this.#useWindow = options.window ?? true;
    this.#model = model;
    this.#cache = cache;
    this.#etscWindow = etscWindow;
    this.#limit = limit;
    this.#short = this.#shortFits();
    [this.#lease, this.#mixers] = this.#makeStates(this.#firstRows(maxLength));
  }

  /** Positions the first states hold: the limit for short kernels, else the hint's bucket (never past the limit). */
  #firstRows(maxLength: number): number {
    return this.#short ? this.#limit : Math.min(lengthBucket(maxLength), this.#limit);
  }

  /**
   * Bytes of states for `rows` positions and their kernels: full ones (when not cached yet, so an upper bound), or
   * short ones plus the largest table of far lags a call computes (one layer's, up to the last row).
   */
  #stateBytes(rows: number, short: boolean): number {
    const layers = this.#model.body.layers;
    const cap = lengthBucket(rows);
    const kernelRows = short ? Math.min(cap, OnlineKernelHandle.minRows) : cap;
    const far = short ? 4 * rows * Math.max(...layers.map((l) => l.tno.channels)) : 0;
    return layers.reduce((s, l) => s + onlineKernelBytes(kernelRows, cap, l.tno.channels) + onlineStateBytes(rows, cap, l.tno.channels), far);
  }

  /** Whether `"online"` decoding up to the limit cannot have its full kernels within the budget but fits with short ones. */
  #shortFits(): boolean {
    if (this.mode !== "online" || !Number.isFinite(this.#limit) || this.#windowed(this.#limit)) return false;
    return !fits(this.#stateBytes(this.#limit, false)) && fits(this.#stateBytes(this.#limit, true));
  }

  /**
   * Whether `"online"` decoding of up to `cap` positions runs on windowed states: when every layer's kernel decays
   * and the state would reach its window, past which the windowed state is exact in memory that stops growing.
   */
  #windowed(cap: number): boolean {
    if (this.mode !== "online" || !this.#useWindow) return false;
    // Short sequences never reach a window; the free lower bound settles that without evaluating any RPE.
    if (this.#model.body.layers.some((l) => cap < l.tno.windowLowerBound)) return false;
    const windows = this.#model.body.layers.map((l) => l.tno.window);
    return windows.every(Number.isFinite) && cap >= Math.max(...windows);
  }

  /** States for `rows` positions (online and naive; ETSC states are constant) and the kernels they run with. */
  #makeStates(rows: number): [KernelLease<unknown>, LayerMixer[]] {
    const layers = this.#model.body.layers;
    const cap = lengthBucket(rows);
    if (this.#windowed(rows)) {
      // Counting each layer's kernel too, whether or not it is already built: an upper bound.
      reserve(layers.reduce((s, l) => s + windowBytes(l.tno.window, l.tno.channels), 0), "a windowed decode state");
      const states: ConvState[] = [];
      try {
        for (const l of layers) states.push(windowConvState(l.tno.windowKernel()!));
      } catch (e) {
        for (const st of states) st.dispose();
        throw e;
      }
      // The windowed kernels belong to the layers' Tnos; nothing to give back.
      return [NO_LEASE, states.map((st) => new LayerMixer(st))];
    }
    reserve(this.#stateBytes(rows, this.#short), `decode states for ${rows} positions`);
    const states: ConvState[] = [];
    const lease =
      this.mode === "etsc" ? this.#cache.etsc(this.#etscWindow) : this.#short ? this.#cache.onlineShort(cap) : this.#cache.online(cap);
    try {
      for (const k of lease.kernels) {
        if (this.mode === "etsc") states.push(etscConvState(k as Parameters<typeof etscConvState>[0]));
        else states.push((this.mode === "naive" ? naiveConvState : onlineConvState)(k as Parameters<typeof onlineConvState>[0], rows));
      }
    } catch (e) {
      for (const s of states) s.dispose();
      lease.release();
      throw e;
    }
    return [lease, states.map((s) => new LayerMixer(s))];
  }

  #alive(): void {
    if (this.#disposed) throw new DisposedError("decode state used after dispose()");
    if (this.#broken) throw new DecodeStateError("a previous prefill or step failed part-way; call reset() before using this state again");
  }

  /** Tokens consumed so far. */
  get position(): number {
    return this.#position;
  }

  /**
   * Each layer's decay window K: the lags past which its kernel is zero to float32 precision (Infinity without
   * decay). Once the sequence reaches the longest, `"online"` decoding runs on windowed states of fixed size.
   */
  get windows(): number[] {
    return this.#model.body.layers.map((l) => l.tno.window);
  }

  /** Whether the layers run on windowed states now (memory and time per token no longer grow). */
  get windowed(): boolean {
    return this.#mixers[0]?.state.push !== undefined && this.mode === "online";
  }

  /** Most positions this sequence may reach (the `limit` option; Infinity without one). */
  get limit(): number {
    return this.#limit;
  }

  /** Tokens the states hold before they move to a larger bucket (Infinity for ETSC and windowed states). */
  get capacity(): number {
    return this.#mixers[0]?.state.capacity ?? Infinity;
  }

  /** Bytes of wasm memory this sequence's layer states hold (the model's shared kernels not included). */
  get memoryBytes(): number {
    if (this.#disposed) throw new DisposedError("decode state used after dispose()");
    return this.#mixers.reduce((s, m) => s + m.state.memoryBytes, 0);
  }

  /**
   * Runs the prompt through every layer in one pass (FFT convolution) and seeds the layer states.
   * Returns the logits after the last prompt token (`[vocab]`): written into `out` when given, else a new array.
   * @throws {DecodeStateError} the state is not at position 0
   * @throws {DTypeError} `ids` is not an array or a typed array
   * @throws {ValueRangeError} an empty prompt or an id outside the vocabulary
   */
  prefill(ids: ArrayLike<number>, out?: Float32Array): Float32Array {
    this.#alive();
    this.#checkOut(out);
    if (this.#position !== 0) throw new DecodeStateError(`prefill needs a fresh state (position 0), this one is at ${this.#position}; call reset()`);
    if (!Array.isArray(ids) && !(ArrayBuffer.isView(ids) && !(ids instanceof DataView))) {
      throw new DTypeError(`prefill: ids must be a number[] or a typed array (Int32Array), got ${ids === null ? "null" : typeof ids}`);
    }
    if (ids.length === 0) throw new ValueRangeError("prefill: the prompt must have at least one token");
    checkIds(ids, this.#model.vocabSize, "prefill");
    return this.#advance(Int32Array.from(ids), out);
  }

  /**
   * Consumes token `id` and returns the logits for the next token (`[vocab]`): written into `out` when given, else a
   * new array.
   * @throws {DecodeStateError} no prefill yet
   * @throws {ValueRangeError} an id outside the vocabulary
   */
  step(id: number, out?: Float32Array): Float32Array {
    this.#alive();
    this.#checkOut(out);
    if (this.#position === 0) throw new DecodeStateError("step before prefill: call prefill(prompt) first");
    checkIds([id], this.#model.vocabSize, "step");
    return this.#advance(Int32Array.of(id), out);
  }

  /** The body over `ids` with the layer states as mixers, and the head on the last row. */
  #advance(ids: Int32Array, out: Float32Array | undefined): Float32Array {
    const need = this.#position + ids.length;
    if (need > this.#limit) throw new DecodeStateError(`this decoder's limit is ${this.#limit} positions; ${need} would pass it`);
    if (need > this.capacity) this.#grow(Math.min(Math.max(lengthBucket(need), 2 * this.capacity), this.#limit));
    const body = this.#model.body;
    // Windowed states take any number of rows per call, so a long prompt runs block by block: memory holds one
    // block's activations, whatever the prompt's length.
    const blocks = this.windowed && ids.length > PIPELINE_BLOCK;
    reserve(body.forwardBytes(Math.min(ids.length, blocks ? PIPELINE_BLOCK : ids.length), false), `a decode pass of ${ids.length} tokens`);
    let logits: F32;
    try {
      using h = blocks ? body.lastHiddenThrough(ids, PIPELINE_BLOCK, this.#mixers) : body.forward(ids, this.#mixers);
      using last = headRows(h, true);
      logits = this.#model.head.forward(last);
    } catch (e) {
      if (this.#mixers.some((m) => m.state.position !== this.#position)) this.#broken = true;
      throw e;
    }
    this.#position = need;
    try {
      if (!out) return logits.toArray();
      out.set(logits.data);
      return out;
    } finally {
      logits.dispose();
    }
  }

  #checkOut(out: Float32Array | undefined): void {
    if (out !== undefined && (!(out instanceof Float32Array) || out.length !== this.#model.vocabSize)) {
      throw new ShapeError(`logits output must be a Float32Array of the vocabulary size ${this.#model.vocabSize}`);
    }
  }

  /**
   * Moves every layer to states of `rows` positions (or to windowed states): the input histories are copied out, the outgrown
   * states and their kernels freed, and the new states seeded from the copies. Freeing first keeps the peak at one
   * bucket plus the histories instead of two buckets; if the new states cannot be made, the decoder holds none and
   * is broken until `reset()`.
   */
  #grow(rows: number): void {
    if (this.mode === "etsc") return;
    const pos = this.#position;
    const layers = this.#model.body.layers;
    const histories: F32[] = [];
    try {
      this.#mixers.forEach((old) => {
        if (!old.state.history) throw new DecodeStateError(`the ${this.mode} state cannot grow past ${old.state.capacity} tokens`);
      });
      for (const [i, old] of this.#mixers.entries()) {
        const h = Tensor.empty("float32", [pos, layers[i]!.tno.channels]);
        histories.push(h);
        if (pos > 0) old.state.history!(h);
      }
    } catch (e) {
      for (const h of histories) h.dispose();
      throw e;
    }
    this.#disposeStates();
    try {
      [this.#lease, this.#mixers] = this.#makeStates(rows);
      if (pos > 0) {
        for (const [i, m] of this.#mixers.entries()) {
          using scratch = Tensor.empty("float32", histories[i]!.dims);
          m.state.prefill(histories[i]!, pos, scratch);
        }
      }
    } catch (e) {
      this.#disposeStates();
      this.#broken = true;
      throw e;
    } finally {
      for (const h of histories) h.dispose();
    }
  }

  /** Back to position 0, keeping the allocations (and clearing a failed call's state). */
  reset(): void {
    if (this.#disposed) throw new DisposedError("decode state used after dispose()");
    // A failed growth left no states: start again from the smallest bucket.
    if (this.#mixers.length === 0) [this.#lease, this.#mixers] = this.#makeStates(this.#firstRows(DEFAULT_DECODER_MAX_LENGTH));
    for (const m of this.#mixers) m.state.reset();
    this.#position = 0;
    this.#broken = false;
  }

  #disposeStates(): void {
    for (const m of this.#mixers) m.state.dispose();
    this.#mixers = [];
    this.#lease.release();
    this.#lease = NO_LEASE;
  }

  /** Frees the layer states. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#disposeStates();
  }
}
