/**
 * One sequence being decoded: the per-layer convolution states plus preallocated per-step buffers, separate from
 * the model's weights. The prompt goes through one FFT pass that also seeds the states; each step then costs one
 * token's worth of work in every layer.
 * @module
 */
import { DecodeStateError, DisposedError, InvalidOptionError, ShapeError, ValueRangeError } from "../core/errors.js";
import { add, embeddingKernel, mul, silu } from "../core/ops.js";
import { Tensor } from "../core/tensor.js";
import { kernels } from "../core/wasm.js";
import { type Embedding } from "../nn/embedding.js";
import { type LayerNorm } from "../nn/layer-norm.js";
import { type TnnBlock } from "../nn/tnn-block.js";
import { type ConvState, etscConvState, naiveConvState, onlineConvState } from "./conv-state.js";
import { type DecodeKernelCache, type KernelLease, lengthBucket } from "./decode-kernels.js";
import { DECODE_MODES, type DecodeMode } from "./decode-mode.js";
import { DEFAULT_ETSC_WINDOW } from "./generate-options.js";
import { type StepDecoder, type StepDecoderOptions } from "./generate.js";
import { checkIds } from "./tokenizer.js";

type F32 = Tensor<"float32">;

/** The parts of a causal LM that decoding runs. */
export interface DecodableModel {
  readonly embed: Embedding;
  readonly layers: readonly TnnBlock[];
  readonly finalNorm: LayerNorm | undefined;
  /** Hidden state `[n, d]` to logits `[n, vocab]`. */
  readonly head: { forward(x: F32, out?: F32): F32 };
  readonly vocabSize: number;
}

/** Default {@link StepDecoderOptions.maxLength} of a decoder made without one. */
export const DEFAULT_DECODER_MAX_LENGTH = 4096;

/** Per-step buffers, allocated once per sequence so that a step allocates nothing in wasm memory. */
class StepBuffers {
  readonly ids: Tensor<"int32">;
  readonly x: F32;
  readonly h: F32;
  readonly u: F32;
  readonly v: F32;
  readonly y: F32;
  readonly o: F32;
  readonly g1: F32;
  readonly g2: F32;
  readonly logits: F32;

  constructor(d: number, c: number, glu: number, vocab: number) {
    this.ids = Tensor.zeros("int32", [1]);
    this.x = Tensor.zeros("float32", [1, d]);
    this.h = Tensor.zeros("float32", [1, d]);
    this.u = Tensor.zeros("float32", [1, c]);
    this.v = Tensor.zeros("float32", [1, c]);
    this.y = Tensor.zeros("float32", [1, c]);
    this.o = Tensor.zeros("float32", [1, d]);
    this.g1 = Tensor.zeros("float32", [1, glu]);
    this.g2 = Tensor.zeros("float32", [1, glu]);
    this.logits = Tensor.zeros("float32", [1, vocab]);
  }

  get all(): Tensor[] {
    return [this.ids, this.x, this.h, this.u, this.v, this.y, this.o, this.g1, this.g2, this.logits];
  }

  dispose(): void {
    for (const t of this.all) t.dispose();
  }
}

/**
 * The decode state of one sequence. Create it with `model.decoder()`; `prefill(prompt)` then `step(id)` repeatedly.
 *
 * Exact modes (`"online"`, `"naive"`) size their states for `maxLength` tokens (rounded up to a power-of-two
 * bucket); a sequence that runs past it moves to the next bucket (a one-off re-prefill of the layer histories).
 */
export class DecodeState implements StepDecoder {
  readonly mode: DecodeMode;
  readonly #model: DecodableModel;
  readonly #cache: DecodeKernelCache;
  readonly #etscWindow: number;
  #lease: KernelLease<unknown>;
  #states: ConvState[];
  #buf: StepBuffers | undefined;
  #position = 0;

  /**
   * @throws {InvalidOptionError} unknown option or mode, or a model that is not a pre-norm causal LM
   * @throws {ValueRangeError} maxLength or etscWindow out of range
   */
  constructor(model: DecodableModel, cache: DecodeKernelCache, options: StepDecoderOptions = {}) {
    if (options === null || typeof options !== "object") throw new InvalidOptionError("decoder: options must be an object");
    for (const k of Object.keys(options)) {
      if (k !== "mode" && k !== "maxLength" && k !== "etscWindow") throw new InvalidOptionError(`decoder: unknown option "${k}"; expected mode, maxLength, etscWindow`);
    }
    const mode = options.mode ?? "online";
    if (!DECODE_MODES.includes(mode)) throw new InvalidOptionError(`decoder: mode must be one of ${DECODE_MODES.join(", ")}, got ${String(mode)}`);
    const maxLength = options.maxLength ?? DEFAULT_DECODER_MAX_LENGTH;
    if (!Number.isSafeInteger(maxLength) || maxLength < 1 || maxLength > 2 ** 26) {
      throw new ValueRangeError(`decoder: maxLength must be an integer in [1, 2^26], got ${String(maxLength)}`);
    }
    const etscWindow = options.etscWindow ?? DEFAULT_ETSC_WINDOW;
    if (!Number.isSafeInteger(etscWindow) || etscWindow < 1 || etscWindow > 2 ** 20) {
      throw new ValueRangeError(`decoder: etscWindow must be an integer in [1, 2^20], got ${String(etscWindow)}`);
    }
    for (const [i, b] of model.layers.entries()) {
      if (!b.prenorm || !b.mixer.tno.causal) throw new InvalidOptionError(`decoder: layer ${i} is not a pre-norm causal block; only causal LMs decode`);
    }
    this.mode = mode;
    this.#model = model;
    this.#cache = cache;
    this.#etscWindow = etscWindow;
    const first = model.layers[0];
    const c = first ? first.mixer.channels : 1;
    const glu = first ? first.glu.l1.outFeatures : 1;
    [this.#lease, this.#states] = this.#makeStates(lengthBucket(maxLength));
    try {
      this.#buf = new StepBuffers(model.embed.dim, c, glu, model.vocabSize);
    } catch (e) {
      this.#disposeStates();
      throw e;
    }
  }

  #makeStates(cap: number): [KernelLease<unknown>, ConvState[]] {
    const states: ConvState[] = [];
    if (this.mode === "etsc") {
      const lease = this.#cache.etsc(this.#etscWindow);
      try {
        for (const k of lease.kernels) states.push(etscConvState(k));
      } catch (e) {
        for (const s of states) s.dispose();
        lease.release();
        throw e;
      }
      return [lease, states];
    }
    const lease = this.#cache.online(cap);
    const make = this.mode === "naive" ? naiveConvState : onlineConvState;
    try {
      for (const k of lease.kernels) states.push(make(k));
    } catch (e) {
      for (const s of states) s.dispose();
      lease.release();
      throw e;
    }
    return [lease, states];
  }

  #b(): StepBuffers {
    if (!this.#buf) throw new DisposedError("decode state used after dispose()");
    return this.#buf;
  }

  /** Tokens consumed so far. */
  get position(): number {
    return this.#position;
  }

  /** Tokens the states hold before they move to a larger bucket (Infinity for ETSC). */
  get capacity(): number {
    return this.#states[0]?.capacity ?? Infinity;
  }

  /** Bytes of wasm memory this sequence holds: layer states and step buffers (shared kernels not included). */
  get memoryBytes(): number {
    const b = this.#b();
    let bytes = 0;
    for (const s of this.#states) bytes += s.memoryBytes;
    for (const t of b.all) bytes += t.size * 4;
    return bytes;
  }

  /**
   * Runs the prompt through every layer in one pass (FFT convolution) and seeds the layer states.
   * Returns the logits after the last prompt token (`[vocab]`): written into `out` when given, else a new array.
   * @throws {DecodeStateError} the state is not at position 0
   * @throws {ValueRangeError} an empty prompt or an id outside the vocabulary
   */
  prefill(ids: ArrayLike<number>, out?: Float32Array): Float32Array {
    const b = this.#b();
    this.#checkOut(out);
    if (this.#position !== 0) throw new DecodeStateError(`prefill needs a fresh state (position 0), this one is at ${this.#position}; call reset()`);
    if (ids.length === 0) throw new ValueRangeError("prefill: the prompt must have at least one token");
    checkIds(ids, this.#model.vocabSize, "prefill");
    const n = ids.length;
    while (n > this.capacity) this.#grow(Math.max(lengthBucket(n), 2 * this.capacity));
    const model = this.#model;
    const x = model.embed.forward(Int32Array.from(ids));
    try {
      model.layers.forEach((block, i) => this.#prefillBlock(block, this.#states[i]!, x, n));
      // Only the last position's logits are needed.
      const d = model.embed.dim;
      b.x.data.set(x.data.subarray((n - 1) * d, n * d));
    } finally {
      x.dispose();
    }
    this.#position = n;
    return this.#logits(b, out);
  }

  /** `x += GTU(SRMS(x)); x += GLU(SRMS(x))` over the whole prompt, the GTU's Toeplitz part through the state. */
  #prefillBlock(block: TnnBlock, state: ConvState, x: F32, n: number): void {
    const h = block.norm.forward(x);
    let u: F32 | undefined, v: F32 | undefined, y: F32 | undefined, o: F32 | undefined;
    try {
      ({ u, v } = block.mixer.gates(h));
      y = Tensor.empty("float32", [n, block.mixer.channels]);
      state.prefill(v, n, y);
      o = block.mixer.project(u, y);
      add(x, o, x);
    } finally {
      for (const t of [h, u, v, y, o]) t?.dispose();
    }
    const h2 = block.norm.forward(x);
    try {
      const g = block.glu.forward(h2);
      add(x, g, x);
      g.dispose();
    } finally {
      h2.dispose();
    }
  }

  /**
   * Consumes token `id` and returns the logits for the next token (`[vocab]`): written into `out` when given, else a
   * new array.
   * @throws {DecodeStateError} no prefill yet
   * @throws {ValueRangeError} an id outside the vocabulary
   */
  step(id: number, out?: Float32Array): Float32Array {
    const b = this.#b();
    this.#checkOut(out);
    if (this.#position === 0) throw new DecodeStateError("step before prefill: call prefill(prompt) first");
    checkIds([id], this.#model.vocabSize, "step");
    if (this.#position >= this.capacity) this.#grow(2 * this.capacity);
    const model = this.#model;
    b.ids.data[0] = id;
    const emb = model.embed;
    const k = kernels();
    // The kernel directly, with the preallocated ids tensor: ops.embedding would allocate one per call.
    embeddingKernel(emb.weight, b.ids.ptr, 1, emb.scale, b.x.ptr);
    for (let i = 0; i < model.layers.length; i++) {
      const block = model.layers[i]!;
      const gtu = block.mixer;
      block.norm.forward(b.x, b.h);
      gtu.uProj.forward(b.h, b.u);
      silu(b.u, b.u);
      gtu.vProj.forward(b.h, b.v);
      silu(b.v, b.v);
      this.#states[i]!.step(b.v, b.y);
      mul(b.u, b.y, b.y);
      gtu.o.forward(b.y, b.o);
      add(b.x, b.o, b.x);
      const glu = block.glu;
      block.norm.forward(b.x, b.h);
      glu.l1.forward(b.h, b.g1);
      silu(b.g1, b.g1);
      glu.l2.forward(b.h, b.g2);
      mul(b.g1, b.g2, b.g1);
      glu.l3.forward(b.g1, b.o);
      add(b.x, b.o, b.x);
    }
    this.#position++;
    return this.#logits(b, out);
  }

  #checkOut(out: Float32Array | undefined): void {
    if (out !== undefined && (!(out instanceof Float32Array) || out.length !== this.#model.vocabSize)) {
      throw new ShapeError(`logits output must be a Float32Array of the vocabulary size ${this.#model.vocabSize}`);
    }
  }

  #logits(b: StepBuffers, out: Float32Array | undefined): Float32Array {
    const norm = this.#model.finalNorm;
    if (norm) norm.forward(b.x, b.h);
    else b.h.data.set(b.x.data);
    this.#model.head.forward(b.h, b.logits);
    if (!out) return b.logits.toArray();
    out.set(b.logits.data);
    return out;
  }

  /** Moves every layer to the bucket `cap`: new states seeded from the old ones' input histories. */
  #grow(cap: number): void {
    if (this.mode === "etsc") return;
    const [lease, states] = this.#makeStates(cap);
    const pos = this.#position;
    try {
      if (pos > 0) {
        this.#states.forEach((old, i) => {
          const c = this.#model.layers[i]!.mixer.channels;
          const hist = Tensor.empty("float32", [pos, c]);
          const scratch = Tensor.empty("float32", [pos, c]);
          try {
            if (!old.history) throw new DecodeStateError(`the ${this.mode} state cannot grow past ${old.capacity} tokens`);
            old.history(hist);
            states[i]!.prefill(hist, pos, scratch);
          } finally {
            hist.dispose();
            scratch.dispose();
          }
        });
      }
    } catch (e) {
      for (const s of states) s.dispose();
      lease.release();
      throw e;
    }
    this.#disposeStates();
    this.#lease = lease;
    this.#states = states;
  }

  /** Back to position 0, keeping the allocations. */
  reset(): void {
    this.#b();
    for (const s of this.#states) s.reset();
    this.#position = 0;
  }

  #disposeStates(): void {
    for (const s of this.#states) s.dispose();
    this.#states = [];
    this.#lease.release();
  }

  /** Frees the layer states and buffers. Idempotent. */
  dispose(): void {
    if (!this.#buf) return;
    this.#disposeStates();
    this.#buf.dispose();
    this.#buf = undefined;
  }
}
