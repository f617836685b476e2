/**
 * `TnnForCausalLM`: the TNN language model (the official `decoder.*`): a body and an output projection.
 * @module
 */
import { DisposedError, ShapeError } from "../core/errors.js";
import { reserve } from "../core/memory.js";
import { type Tensor } from "../core/tensor.js";
import { AdaptiveInput } from "../nn/adaptive-input.js";
import { AdaptiveSoftmax } from "../nn/adaptive-softmax.js";
import { Linear } from "../nn/linear.js";
import { type VarBuilder } from "../nn/var-builder.js";
import { headRows, mapSequences } from "./batch.js";
import { type TnnConfig } from "./config.js";
import { Embedding } from "../nn/embedding.js";
import { type BodyOptions, PIPELINE_BLOCK, TnnBody } from "./tnn-body.js";
import { type ForwardOptions, type TokenIds, parseForwardOptions, parseTokenIds } from "./token-ids.js";

type F32 = Tensor<"float32">;

/** Tokens per block of a pipelined forward: the block's activations are what a long input costs beyond the windows. */

/** The layers of a {@link TnnForCausalLM}. */
export interface CausalLMParts {
  readonly body: TnnBody;
  /**
   * The output projection `[V, d]`, no bias (tied models share the embedding's storage), or an adaptive softmax,
   * whose output is log-probabilities.
   */
  readonly head: Linear | AdaptiveSoftmax;
}

/** `x = scale · E[ids]`, the blocks, the final norm, `logits = h Wᵀ` (W tied to E unless the file says otherwise). */
export class TnnForCausalLM {
  readonly config: TnnConfig;
  readonly body: TnnBody;
  readonly head: Linear | AdaptiveSoftmax;
  #disposed = false;

  /**
   * Takes ownership of the parts (models are normally built by `loadModel`).
   * @throws {ShapeError} the parts do not match the config
   */
  constructor(config: TnnConfig, parts: CausalLMParts) {
    const { body, head } = parts;
    if (body.dim !== config.dModel || body.embed.vocabSize !== config.vocabSize || body.layers.length !== config.nLayers ||
        head.inFeatures !== config.dModel || head.outFeatures !== config.vocabSize) {
      throw new ShapeError("TnnForCausalLM: the layers' sizes do not match the config");
    }
    this.config = config;
    this.body = body;
    this.head = head;
  }

  /**
   * The official parameters: the body under `decoder.`, then `decoder.output_projection.weight` tied to the
   * embedding, or `decoder.adaptive_softmax.*`.
   */
  static loadParts(vb: VarBuilder, config: TnnConfig, options: BodyOptions = {}): CausalLMParts {
    const dec = vb.pp("decoder");
    const body = TnnBody.load(dec, config, options);
    const s = config.adaptiveSoftmax;
    if (s) {
      const input = s.tieWeights && body.embed instanceof AdaptiveInput ? body.embed : undefined;
      const shape = { vocabSize: config.vocabSize, dim: config.dModel, cutoffs: s.cutoffs, factor: s.factor };
      return { body, head: AdaptiveSoftmax.load(dec.pp("adaptive_softmax"), shape, { input, tieProj: s.tieProj }) };
    }
    if (!(body.embed instanceof Embedding)) {
      // fairseq ties an adaptive input only to an adaptive softmax; a plain projection of its own is not tied.
      return { body, head: Linear.load(dec.pp("output_projection"), config.dModel, config.vocabSize, { bias: false }) };
    }
    return { body, head: new Linear(dec.tiedMatrix("output_projection.weight", body.embed.weight)) };
  }

  /** Vocabulary size V. */
  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /**
   * Final hidden states of one sequence (after the final norm): `[n, d]`. The caller owns the result.
   * @throws {ShapeError|ValueRangeError} the ids are empty or out of range
   */
  hiddenStates(ids: Int32Array | readonly number[]): F32 {
    this.#alive();
    const { sequences } = parseTokenIds(ids as TokenIds, this.vocabSize, "TnnForCausalLM.hiddenStates");
    return this.body.forward(sequences[0]!);
  }

  /**
   * Logits for every position of `ids` (one sequence, or a batch of equal-length sequences): float32 `[n, V]` or
   * `[batch, n, V]`; with `lastOnly`, `[1, V]` or `[batch, 1, V]`. The caller owns (and disposes) the result.
   * @throws {ShapeError} an empty sequence or a ragged batch
   * @throws {ValueRangeError} an id outside `[0, V)` or not an integer
   * @throws {InvalidOptionError} bad options
   */
  forward(ids: TokenIds, options?: ForwardOptions): F32 {
    this.#alive();
    const what = "TnnForCausalLM.forward";
    const { lastOnly } = parseForwardOptions(options, what);
    const parsed = parseTokenIds(ids, this.vocabSize, what);
    const n = parsed.sequences[0]!.length;
    const rows = lastOnly ? 1 : n;
    const pipelined = lastOnly && this.#pipelines(n);
    // The output, one sequence's activations, and the head's own (an adaptive softmax scores every band).
    const logits = 4 * parsed.sequences.length * rows * this.vocabSize;
    const body = pipelined ? this.body.pipelinedBytes(PIPELINE_BLOCK) : this.body.forwardBytes(n);
    reserve(logits + body + 8 * rows * this.vocabSize, `a forward pass of ${parsed.sequences.length} × ${n} tokens`);
    return mapSequences(parsed, [rows, this.vocabSize], (seq, out) => {
      using h = pipelined ? this.body.lastHidden(seq, PIPELINE_BLOCK) : this.body.forward(seq);
      using r = headRows(h, lastOnly);
      this.head.forward(r, out);
    });
  }

  /**
   * Whether the last position of `n` tokens is computed block by block through every layer's windowed state: a
   * long input to a model whose every kernel decays, in memory that depends on the windows and the block, not on n.
   */
  #pipelines(n: number): boolean {
    return n > PIPELINE_BLOCK && this.body.layers.every((l) => l.tno.causal && Number.isFinite(l.tno.window));
  }

  #alive(): void {
    if (this.#disposed) throw new DisposedError("TnnForCausalLM used after dispose()");
  }

  /** Frees every layer. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.body.dispose();
    this.head.dispose();
  }
}
