/**
 * `TnnEncoder`: the bidirectional TNN (the official `encoder.sentence_encoder.*`) with RoBERTa's MLM head and
 * optional sentence classification heads.
 * @module
 */
import { ConfigError, DisposedError, InvalidOptionError, ShapeError } from "../core/errors.js";
import { reserve } from "../core/memory.js";
import { Embedding } from "../nn/embedding.js";
import { type Tensor } from "../core/tensor.js";
import { type VarBuilder } from "../nn/var-builder.js";
import { headRows, mapSequences } from "./batch.js";
import { ClassificationHead, type ClassificationHeadSpec } from "./classification-head.js";
import { type TnnConfig } from "./config.js";
import { MlmHead } from "./mlm-head.js";
import { type BodyOptions, TnnBody } from "./tnn-body.js";
import { type ForwardOptions, type TokenIds, parseForwardOptions, parseTokenIds } from "./token-ids.js";

type F32 = Tensor<"float32">;

/** The layers of a {@link TnnEncoder}. */
export interface EncoderParts {
  readonly body: TnnBody;
  readonly lmHead: MlmHead;
  readonly classificationHeads?: readonly ClassificationHead[];
}

/** Options of {@link TnnEncoder.classify}. */
export interface ClassifyOptions {
  /** Which classification head; may be omitted when the model has exactly one. */
  readonly head?: string;
}

/**
 * `x = LayerNorm(scale · E[ids])` with padding rows zeroed, the blocks, then the MLM head or a classification head.
 * As in the official `TransformerEncoder`, padding is zeroed once after the embedding and nowhere else: a padded
 * row's zeros still enter every later layer's mixing.
 */
export class TnnEncoder {
  readonly config: TnnConfig;
  readonly body: TnnBody;
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
    const { body } = parts;
    if (body.dim !== d || body.embed.vocabSize !== config.vocabSize || body.layers.length !== config.nLayers ||
        parts.lmHead.vocabSize !== config.vocabSize || parts.lmHead.dense.inFeatures !== d || heads.some((h) => h.dense.inFeatures !== d)) {
      throw new ShapeError("TnnEncoder: the layers' sizes do not match the config");
    }
    this.config = config;
    this.body = body;
    this.lmHead = parts.lmHead;
    this.#heads = new Map(heads.map((h) => [h.name, h]));
  }

  /**
   * The official parameters: the body under `encoder.sentence_encoder.` (padding id `config.padIndex` zeroed after
   * the embedding), `encoder.lm_head.*`, and each of `heads` under `classification_heads.<name>.*`.
   */
  static loadParts(vb: VarBuilder, config: TnnConfig, heads: readonly ClassificationHeadSpec[] = [], options: BodyOptions = {}): EncoderParts {
    const body = TnnBody.load(vb.pp("encoder").pp("sentence_encoder"), config, { ...options, maskPadding: config.padIndex ?? undefined });
    if (!(body.embed instanceof Embedding)) throw new ConfigError("an encoder's embedding is one table; adaptive inputs exist only in causal LMs");
    const lmHead = MlmHead.load(vb, config.dModel, config.vocabSize, body.embed.weight);
    return { body, lmHead, classificationHeads: heads.map((h) => ClassificationHead.load(vb, h, config.dModel)) };
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
      using h = this.body.forward(seq);
      out.data.set(h.data);
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
    const what = "TnnEncoder.forward";
    const { lastOnly } = parseForwardOptions(options, what);
    const parsed = parseTokenIds(ids, this.vocabSize, what);
    const n = parsed.sequences[0]!.length;
    const rows = lastOnly ? 1 : n;
    reserve(4 * parsed.sequences.length * rows * this.vocabSize + this.body.forwardBytes(n) + 8 * rows * this.config.dModel,
      `a forward pass of ${parsed.sequences.length} × ${n} tokens`);
    return mapSequences(parsed, [rows, this.vocabSize], (seq, out) => {
      using h = this.body.forward(seq);
      using rows = headRows(h, lastOnly);
      this.lmHead.forward(rows, out);
    });
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
      using h = this.body.forward(seq);
      using row = out.reshape([1, head.numClasses]);
      head.forward(h, row);
    });
  }

  #alive(): void {
    if (this.#disposed) throw new DisposedError("TnnEncoder used after dispose()");
  }

  /** Frees every layer. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.body.dispose();
    this.lmHead.dispose();
    for (const h of this.#heads.values()) h.dispose();
  }
}
