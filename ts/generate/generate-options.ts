/**
 * The options of `generate()`, and their validation: every mistake is a typed error naming the option.
 * @module
 */
import { InvalidOptionError, ValueRangeError } from "../core/errors.js";
import { DECODE_MODES, type DecodeMode } from "./decode-mode.js";
import { type SamplerOptions, resolveSamplerOptions } from "./sampler.js";
import { checkStopTokens } from "./stop.js";

/** One generated token, as the iterator yields it and `onToken` receives it. */
export interface GeneratedToken {
  /** The token id. */
  readonly id: number;
  /**
   * The text this token lets through, when the model has a tokenizer: possibly empty while a multi-byte character
   * or a possible stop string is still incomplete, possibly more than the token's own text once it completes.
   */
  readonly text?: string;
}

/** Why generation ended. */
export type FinishReason = "length" | "stop" | "abort";

/** What the iterator returns when it ends (`{ done: true, value }`), and what {@link generateText} resolves to. */
export interface GenerateResult {
  /** Every generated token id, a final stop token included. */
  readonly ids: number[];
  /** All text yielded, when the model has a tokenizer (text still held back at an abort is dropped). */
  readonly text?: string;
  readonly finishReason: FinishReason;
}

/** Options of `generate()`. Sampling options are those of {@link SamplerOptions}. */
export interface GenerateOptions extends SamplerOptions {
  /** Tokens to generate at most, an integer >= 0; prompt + new tokens must fit the model's `maxLength`. Default 256. */
  maxNewTokens?: number;
  /**
   * Token ids that end generation. The stop token is yielded as the last item, with no text of its own (its `text`
   * carries whatever was still held back). Default: the tokenizer's end-of-text id when it has one.
   */
  stopTokens?: readonly number[] | Int32Array;
  /** Strings that end generation, matched across token boundaries; neither they nor anything after is shown. */
  stopStrings?: readonly string[];
  /** Stops generation cleanly before the next step once aborted: the iterator ends with reason `"abort"`. */
  signal?: AbortSignal;
  /** Called with each token before the iterator yields it. */
  onToken?: (token: GeneratedToken) => void;
  /** How the Toeplitz layers are decoded. Default `"online"` (exact). See {@link DecodeMode}. */
  mode?: DecodeMode;
  /** Window N of the `"etsc"` mode (exact for offsets below N). Default 512. */
  etscWindow?: number;
}

/** {@link GenerateOptions} after validation, defaults filled in. */
export interface ResolvedGenerateOptions {
  readonly sampler: Required<SamplerOptions>;
  readonly maxNewTokens: number;
  readonly stopTokens: readonly number[];
  readonly stopStrings: readonly string[];
  readonly signal: AbortSignal | undefined;
  readonly onToken: ((token: GeneratedToken) => void) | undefined;
  readonly mode: DecodeMode;
  readonly etscWindow: number;
}

/** Default {@link GenerateOptions.maxNewTokens}. */
export const DEFAULT_MAX_NEW_TOKENS = 256;
/** Default {@link GenerateOptions.etscWindow}. */
export const DEFAULT_ETSC_WINDOW = 512;

const KEYS = new Set([
  "maxNewTokens", "temperature", "topK", "topP", "repetitionPenalty", "seed", "stopTokens", "stopStrings", "signal",
  "onToken", "mode", "etscWindow",
]);

/** What validation needs to know about the model and prompt. */
export interface GenerateLimits {
  readonly vocabSize: number;
  /** Longest sequence (prompt + generated) the model decodes. */
  readonly maxLength: number;
  readonly promptLength: number;
  readonly defaultStopTokens: readonly number[];
}

/**
 * Validates `options` against the model and prompt.
 * @throws {InvalidOptionError} unknown key, wrong type, empty stop string, unknown mode
 * @throws {ValueRangeError} a number out of range, maxNewTokens beyond what the model's maxLength leaves
 */
export function resolveGenerateOptions(options: GenerateOptions | undefined, limits: GenerateLimits): ResolvedGenerateOptions {
  const o = options ?? {};
  if (typeof o !== "object" || o === null || Array.isArray(o)) throw new InvalidOptionError("generate: options must be an object");
  for (const k of Object.keys(o)) {
    if (!KEYS.has(k)) throw new InvalidOptionError(`generate: unknown option "${k}"; expected one of ${[...KEYS].join(", ")}`);
  }
  const sampler = resolveSamplerOptions(
    { temperature: o.temperature, topK: o.topK, topP: o.topP, repetitionPenalty: o.repetitionPenalty, seed: o.seed },
    "generate",
  );
  const room = limits.maxLength - limits.promptLength;
  const maxNewTokens = o.maxNewTokens ?? Math.min(DEFAULT_MAX_NEW_TOKENS, Math.max(room, 0));
  if (typeof maxNewTokens !== "number" || !Number.isSafeInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new ValueRangeError(`generate: maxNewTokens must be an integer >= 0, got ${String(maxNewTokens)}`);
  }
  if (maxNewTokens > room) {
    throw new ValueRangeError(
      `generate: maxNewTokens ${maxNewTokens} with a ${limits.promptLength}-token prompt exceeds the model's maxLength ` +
        `${limits.maxLength} (at most ${Math.max(room, 0)} new tokens)`,
    );
  }
  const stopTokens = o.stopTokens === undefined ? limits.defaultStopTokens : checkStopTokens(o.stopTokens, limits.vocabSize, "generate");
  const stopStrings = o.stopStrings ?? [];
  if (!Array.isArray(stopStrings)) throw new InvalidOptionError("generate: stopStrings must be an array of strings");
  for (const s of stopStrings) {
    if (typeof s !== "string" || s === "") throw new InvalidOptionError(`generate: stop strings must be non-empty strings, got ${JSON.stringify(s)}`);
  }
  const signal = o.signal;
  if (signal !== undefined && (typeof signal !== "object" || signal === null || typeof signal.aborted !== "boolean")) {
    throw new InvalidOptionError("generate: signal must be an AbortSignal");
  }
  if (o.onToken !== undefined && typeof o.onToken !== "function") throw new InvalidOptionError("generate: onToken must be a function");
  const mode = o.mode ?? "online";
  if (!DECODE_MODES.includes(mode)) throw new InvalidOptionError(`generate: mode must be one of ${DECODE_MODES.join(", ")}, got ${String(mode)}`);
  const etscWindow = o.etscWindow ?? DEFAULT_ETSC_WINDOW;
  if (typeof etscWindow !== "number" || !Number.isSafeInteger(etscWindow) || etscWindow < 1 || etscWindow > 2 ** 20) {
    throw new ValueRangeError(`generate: etscWindow must be an integer in [1, 2^20], got ${String(etscWindow)}`);
  }
  return { sampler, maxNewTokens, stopTokens, stopStrings: [...stopStrings], signal, onToken: o.onToken, mode, etscWindow };
}
