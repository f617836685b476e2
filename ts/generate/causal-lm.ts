/**
 * `CausalLM`: the TNN language model with decoding and generation on top of the forward pass.
 * @module
 */
import { ValueRangeError } from "../core/errors.js";
import { type CausalLMParts, TnnForCausalLM } from "../models/causal-lm.js";
import { type TnnConfig } from "../models/config.js";
import { DecodeKernelCache } from "./decode-kernels.js";
import { DecodeState } from "./decode-state.js";
import { type GenerateOptions, type GenerateResult, type GeneratedToken } from "./generate-options.js";
import { type GenerativeModel, type Prompt, type StepDecoderOptions, generate, generateText } from "./generate.js";
import { type Tokenizer } from "./tokenizer.js";

/** Default {@link CausalLM.maxLength} of a model with a layer that does not decay (its decode state keeps all history). */
export const DEFAULT_MAX_LENGTH = 65536;

/** The largest {@link CausalLM.maxLength}, and the default of a model whose every layer decays. */
export const MAX_LENGTH_LIMIT = 2 ** 26;

/**
 * A causal TNN LM that can generate. `loadModel` returns one for `decoder.*` checkpoints.
 *
 * Decode kernels (coefficient tables and their spectra, per layer) are built once per power-of-two length bucket and
 * cached on the model, shared by every sequence; each sequence's state lives in its own {@link DecodeState}.
 */
export class CausalLM extends TnnForCausalLM implements GenerativeModel {
  /** Turns text into ids and back; undefined when the model's vocabulary is not known (pass ids then). */
  tokenizer: Tokenizer | undefined;
  #maxLength: number | undefined;
  #kernels: DecodeKernelCache | undefined;

  constructor(config: TnnConfig, parts: CausalLMParts) {
    super(config, parts);
  }

  /**
   * The longest sequence (prompt + generated tokens) `generate` accepts. By default {@link MAX_LENGTH_LIMIT} when
   * every layer's kernel decays (past its window the decoder runs in memory that stops growing), else
   * {@link DEFAULT_MAX_LENGTH}.
   */
  get maxLength(): number {
    // The free lower bound on each window tells decay apart without evaluating any RPE.
    this.#maxLength ??= this.body.layers.every((l) => Number.isFinite(l.tno.windowLowerBound)) ? MAX_LENGTH_LIMIT : DEFAULT_MAX_LENGTH;
    return this.#maxLength;
  }

  /** @throws {ValueRangeError} not an integer in [1, {@link MAX_LENGTH_LIMIT}] */
  set maxLength(n: number) {
    CausalLM.checkMaxLength(n);
    this.#maxLength = n;
  }

  /** @throws {ValueRangeError} `n` is not a valid {@link maxLength} */
  static checkMaxLength(n: number): void {
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_LENGTH_LIMIT) throw new ValueRangeError(`maxLength must be an integer in [1, 2^26], got ${n}`);
  }

  /** The per-model decode kernel cache (created on first use). */
  get decodeKernels(): DecodeKernelCache {
    this.#kernels ??= new DecodeKernelCache(this.body.layers.map((l) => l.tno));
    return this.#kernels;
  }

  /**
   * A fresh decode state for one sequence: `prefill(promptIds)`, then `step(id)` per token; each returns the next
   * token's logits. Dispose it when done.
   * @throws {InvalidOptionError|ValueRangeError} bad options
   */
  decoder(options?: StepDecoderOptions): DecodeState {
    return new DecodeState(this, this.decodeKernels, options);
  }

  /** Streams generated tokens; see {@link generate}. */
  generate(prompt: Prompt, options?: GenerateOptions): AsyncGenerator<GeneratedToken, GenerateResult, undefined> {
    return generate(this, prompt, options);
  }

  /** Generates to the end; see {@link generateText}. */
  generateText(prompt: Prompt, options?: GenerateOptions): Promise<GenerateResult> {
    return generateText(this, prompt, options);
  }

  /** Frees the decode kernels and every layer. Decode states made by this model must not be used afterwards. */
  override dispose(): void {
    this.#kernels?.dispose();
    super.dispose();
  }
}
