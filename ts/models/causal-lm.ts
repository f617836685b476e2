/**
 * `TnnForCausalLM`: the TNN language model (the official `decoder.*`).
 * @module
 */
import { DisposedError, ShapeError } from "../core/errors.js";
import { type Tensor } from "../core/tensor.js";
import { type Embedding } from "../nn/embedding.js";
import { type LayerNorm } from "../nn/layer-norm.js";
import { type Linear } from "../nn/linear.js";
import { type TnnBlock } from "../nn/tnn-block.js";
import { type TnnConfig } from "./config.js";
import { type ForwardOptions, type TokenIds, logitsForward, runLayerStack, parseTokenIds } from "./token-ids.js";

type F32 = Tensor<"float32">;

/** The layers of a {@link TnnForCausalLM}. */
export interface CausalLMParts {
  readonly embed: Embedding;
  readonly layers: readonly TnnBlock[];
  readonly finalNorm?: LayerNorm;
  /** The output projection `[V, d]`, no bias; tied models share the embedding's storage. */
  readonly head: Linear;
}

/**
 * `x = scale · E[ids]`, the blocks, the final LayerNorm, `logits = h Eᵀ`. Batches run one sequence at a time, so
 * memory is that of one sequence plus the output.
 */
export class TnnForCausalLM {
  readonly config: TnnConfig;
  readonly embed: Embedding;
  readonly layers: readonly TnnBlock[];
  readonly finalNorm: LayerNorm | undefined;
  readonly head: Linear;
  #disposed = false;

  /**
   * Takes ownership of the parts (models are normally built by `loadModel`).
   * @throws {ShapeError} the parts do not match the config
   */
  constructor(config: TnnConfig, parts: CausalLMParts) {
    const d = config.dModel;
    if (parts.embed.dim !== d || parts.embed.vocabSize !== config.vocabSize || parts.layers.length !== config.nLayers ||
        parts.layers.some((l) => l.dim !== d) || parts.head.inFeatures !== d || parts.head.outFeatures !== config.vocabSize ||
        (parts.finalNorm !== undefined && parts.finalNorm.dim !== d)) {
      throw new ShapeError("TnnForCausalLM: the layers' sizes do not match the config");
    }
    this.config = config;
    this.embed = parts.embed;
    this.layers = Object.freeze([...parts.layers]);
    this.finalNorm = parts.finalNorm;
    this.head = parts.head;
  }

  /** Vocabulary size V. */
  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /**
   * Final hidden states of one sequence of valid ids (after the final norm): `[n, d]`. The caller owns the result.
   * @throws {ShapeError|ValueRangeError} the ids are empty or out of range
   */
  hiddenStates(ids: Int32Array | readonly number[]): F32 {
    const { sequences } = parseTokenIds(ids as TokenIds, this.vocabSize, "TnnForCausalLM.hiddenStates");
    return runLayerStack(this, sequences[0]!);
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
    return logitsForward(ids, options, this.vocabSize, "TnnForCausalLM.forward", (seq) => runLayerStack(this, seq), this.head);
  }

  #alive(): void {
    if (this.#disposed) throw new DisposedError("TnnForCausalLM used after dispose()");
  }

  /** Frees every layer. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.embed.dispose();
    for (const l of this.layers) l.dispose();
    this.finalNorm?.dispose();
    this.head.dispose();
  }
}
