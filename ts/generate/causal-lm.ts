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

/** Default {@link CausalLM.maxLength}: the longest sequence generate() accepts unless told otherwise. */
export const DEFAULT_MAX_LENGTH = 65536;

/**
 * A causal TNN LM that can generate. `loadModel` returns one for `decoder.*` checkpoints.
 *
 * Decode kernels (coefficient tables and their spectra, per layer) are built once per power-of-two length bucket and
 * cached on the model, shared by every sequence; each sequence's state lives in its own {@link DecodeState}.
 */
export class CausalLM extends TnnForCausalLM implements GenerativeModel {
  /** Turns text into ids and back; undefined when the model's vocabulary is not known (pass ids then). */
  tokenizer: Tokenizer | undefined;
  #maxLength = DEFAULT_MAX_LENGTH;
  #kernels: DecodeKernelCache | undefined;

  constructor(config: TnnConfig, parts: CausalLMParts) {
    super(config, parts);
  }

  /** The longest sequence (prompt + generated tokens) `generate` accepts. */
  get maxLength(): number {
    return this.#maxLength;
  }

  /** @throws {ValueRangeError} not an integer in [1, 2^26] */
  set maxLength(n: number) {
    CausalLM.checkMaxLength(n);
    this.#maxLength = n;
  }

  /** @throws {ValueRangeError} `n` is not a valid {@link maxLength} */
  static checkMaxLength(n: number): void {
    if (!Number.isSafeInteger(n) || n < 1 || n > 2 ** 26) throw new ValueRangeError(`maxLength must be an integer in [1, 2^26], got ${n}`);
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
