/**
 * `TnnEncoder`: the bidirectional TNN (the official `encoder.sentence_encoder.*`) with RoBERTa's MLM head and
 * optional sentence classification heads.
 * @module
 */
import { DisposedError, InvalidOptionError, ShapeError } from "../core/errors.js";
import { type Tensor } from "../core/tensor.js";
import { type Embedding } from "../nn/embedding.js";
import { type LayerNorm } from "../nn/layer-norm.js";
import { type TnnBlock } from "../nn/tnn-block.js";
import { type ClassificationHead } from "./classification-head.js";
import { type TnnConfig } from "./config.js";
import { type MlmHead } from "./mlm-head.js";
import { type ForwardOptions, type TokenIds, logitsForward, runLayerStack, mapSequences, parseTokenIds } from "./token-ids.js";

type F32 = Tensor<"float32">;

/** The layers of a {@link TnnEncoder}. */
export interface EncoderParts {
  readonly embed: Embedding;
  readonly embedNorm?: LayerNorm;
  readonly layers: readonly TnnBlock[];
  readonly finalNorm?: LayerNorm;
  readonly lmHead: MlmHead;
  readonly classificationHeads?: readonly ClassificationHead[];
}

/** Options of {@link TnnEncoder.classify}. */
export interface ClassifyOptions {
  /** Which classification head; may be omitted when the model has exactly one. */
  readonly head?: string;
}

/**
 * `x = LayerNorm(scale · E[ids])`, the (post-norm) blocks, then the MLM head or a classification head. Padding is
 * not masked inside the TNO, as in the official code.
 */
export class TnnEncoder {
  readonly config: TnnConfig;
  readonly embed: Embedding;
  readonly embedNorm: LayerNorm | undefined;
  readonly layers: readonly TnnBlock[];
  readonly finalNorm: LayerNorm | undefined;
  readonly lmHead: MlmHead;
  readonly #heads: ReadonlyMap<string, ClassificationHead>;
  #disposed = false;

  /**
   * Takes ownership of the parts (models are normally built by `loadModel`).
   * @throws {ShapeError} the parts do not match the config
   */
  constructor(config: TnnConfig, parts: EncoderParts) {
    const d = config.dModel;
    const heads = parts.classificationHeads ?? [];
    if (parts.embed.dim !== d || parts.embed.vocabSize !== config.vocabSize || parts.layers.length !== config.nLayers ||
        parts.layers.some((l) => l.dim !== d) || parts.lmHead.vocabSize !== config.vocabSize || parts.lmHead.dense.inFeatures !== d ||
        heads.some((h) => h.dense.inFeatures !== d)) {
      throw new ShapeError("TnnEncoder: the layers' sizes do not match the config");
    }
    this.config = config;
    this.embed = parts.embed;
    this.embedNorm = parts.embedNorm;
    this.layers = Object.freeze([...parts.layers]);
    this.finalNorm = parts.finalNorm;
    this.lmHead = parts.lmHead;
    this.#heads = new Map(heads.map((h) => [h.name, h]));
  }

  /** Vocabulary size V. */
  get vocabSize(): number {
    return this.config.vocabSize;
  }

  /** Names of the classification heads the weights carried. */
  get classificationHeads(): string[] {
    return [...this.#heads.keys()];
  }

  /** The classification head `name`, or undefined. */
  classificationHead(name: string): ClassificationHead | undefined {
    return this.#heads.get(name);
  }


  /**
   * Final hidden states: `[n, d]` or `[batch, n, d]`. The caller owns the result.
   * @throws {ShapeError|ValueRangeError} bad ids (see {@link forward})
   */
  features(ids: TokenIds): F32 {
    this.#alive();
    const parsed = parseTokenIds(ids, this.vocabSize, "TnnEncoder.features");
    const n = parsed.sequences[0]!.length;
    return mapSequences(parsed, [n, this.config.dModel], (seq, out) => {
      const h = runLayerStack(this, seq);
      try {
        out.data.set(h.data);
      } finally {
        h.dispose();
      }
    });
  }

  /**
   * Masked-LM logits for every position: float32 `[n, V]` or `[batch, n, V]`; with `lastOnly`, `[1, V]` or
   * `[batch, 1, V]`. The caller owns the result.
   * @throws {ShapeError} an empty sequence or a ragged batch
   * @throws {ValueRangeError} an id outside `[0, V)` or not an integer
   * @throws {InvalidOptionError} bad options
   */
  forward(ids: TokenIds, options?: ForwardOptions): F32 {
    this.#alive();
    return logitsForward(ids, options, this.vocabSize, "TnnEncoder.forward", (seq) => runLayerStack(this, seq), this.lmHead);
  }

  /**
   * Sentence classification logits from the first token's hidden state: `[classes]` or `[batch, classes]`.
   * @throws {InvalidOptionError} no such head, or several heads and none named
   * @throws {ShapeError|ValueRangeError} bad ids (see {@link forward})
   */
  classify(ids: TokenIds, options: ClassifyOptions = {}): F32 {
    this.#alive();
    if (options === null || typeof options !== "object") throw new InvalidOptionError("TnnEncoder.classify: options must be an object");
    for (const k of Object.keys(options)) if (k !== "head") throw new InvalidOptionError(`TnnEncoder.classify: unknown option "${k}"; expected head`);
    const names = this.classificationHeads;
    const name = options.head ?? (names.length === 1 ? names[0] : undefined);
    const head = name === undefined ? undefined : this.#heads.get(name);
    if (!head) {
      throw new InvalidOptionError(
        names.length === 0
          ? "TnnEncoder.classify: the weights have no classification_heads.*"
          : `TnnEncoder.classify: ${name === undefined ? "name a head" : `no head "${name}"`}; the model has ${names.map((s) => `"${s}"`).join(", ")}`,
      );
    }
    const parsed = parseTokenIds(ids, this.vocabSize, "TnnEncoder.classify");
    return mapSequences(parsed, [head.numClasses], (seq, out) => {
      const h = runLayerStack(this, seq);
      const row = out.reshape([1, head.numClasses]);
      try {
        head.forward(h, row);
      } finally {
        row.dispose();
        h.dispose();
      }
    });
  }

  #alive(): void {
    if (this.#disposed) throw new DisposedError("TnnEncoder used after dispose()");
  }

  /** Frees every layer. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.embed.dispose();
    this.embedNorm?.dispose();
    for (const l of this.layers) l.dispose();
    this.finalNorm?.dispose();
    this.lmHead.dispose();
    for (const h of this.#heads.values()) h.dispose();
  }
}
