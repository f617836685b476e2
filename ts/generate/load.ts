/**
 * `loadModel` for the package's public API: the models layer's loader, with causal LMs built as generate-capable
 * {@link CausalLM}s and given a tokenizer.
 * @module
 */
import { ConfigError, InvalidOptionError, TokenizerError } from "../core/errors.js";
import { type LoadOptions as ModelLoadOptions, loadModel as loadTnn } from "../models/load.js";
import { type TnnEncoder } from "../models/encoder.js";
import { type WeightsSource } from "../models/weights-source.js";
import { ByteTokenizer } from "./byte-tokenizer.js";
import { CausalLM } from "./causal-lm.js";
import { GPT2_VOCAB_SIZE, Gpt2Tokenizer } from "./gpt2-tokenizer.js";
import { type Tokenizer } from "./tokenizer.js";

/**
 * Which model {@link loadModel} is to return: `"causal-lm"` (the default) a {@link CausalLM}, `"encoder"` a
 * {@link TnnEncoder}, `"auto"` whichever the weights are. The result's type follows it.
 */
export type ModelKind = "causal-lm" | "encoder" | "auto";

/** Options of {@link loadModel}: those of the models layer, plus the tokenizer and the generation limit. */
export interface LoadOptions extends Omit<ModelLoadOptions, "causalLMClass"> {
  /** The model expected; default `"causal-lm"`. Weights of the other kind are refused with a {@link ConfigError}. */
  readonly kind?: ModelKind;
  /**
   * The tokenizer of a causal LM. `"byte"`: ids are UTF-8 bytes. `"gpt2"`: GPT-2 BPE, through `dictionary` when
   * given. `"none"`: ids only. Default: `"gpt2"` when a dictionary is given or the vocabulary is GPT-2's 50,257,
   * `"byte"` for a 256-token vocabulary, else none.
   */
  readonly tokenizer?: Tokenizer | "byte" | "gpt2" | "none";
  /** fairseq `dict.txt` (text or bytes) mapping GPT-2 ids to model ids, as the official checkpoints need. */
  readonly dictionary?: string | Uint8Array;
  /** Longest sequence (prompt + generated) `generate` accepts; default {@link CausalLM.maxLength}'s 65,536. */
  readonly maxLength?: number;
}

const OWN_KEYS = new Set(["kind", "tokenizer", "dictionary", "maxLength"]);
const KINDS: readonly ModelKind[] = ["causal-lm", "encoder", "auto"];

/** A model `loadModel` returns: a generate-capable causal LM, or an encoder. */
export type LoadedModel = CausalLM | TnnEncoder;

/**
 * Loads a TNN from safetensors (see the models layer's `loadModel` for sources and config lookup). By default the
 * weights must be a causal LM, which comes back as a {@link CausalLM} with `generate()`, `decoder()` and a
 * tokenizer; `{ kind: "encoder" }` loads a {@link TnnEncoder}, `{ kind: "auto" }` either.
 * @throws {ConfigError} the weights are not of the kind asked for
 * @throws {InvalidOptionError} unknown or bad options
 * @throws {TokenizerError} a tokenizer whose vocabulary does not fit the model, or a malformed dictionary
 * @throws as the models layer's loader (WeightsFormatError, ConfigError, WeightsMismatchError)
 */
export function loadModel(source: WeightsSource, options?: LoadOptions & { readonly kind?: "causal-lm" }): Promise<CausalLM>;
export function loadModel(source: WeightsSource, options: LoadOptions & { readonly kind: "encoder" }): Promise<TnnEncoder>;
export function loadModel(source: WeightsSource, options: LoadOptions): Promise<LoadedModel>;
export async function loadModel(source: WeightsSource, options: LoadOptions = {}): Promise<LoadedModel> {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("loadModel: options must be an object");
  if ("causalLMClass" in options) throw new InvalidOptionError('loadModel: unknown option "causalLMClass"');
  const kind = options.kind ?? "causal-lm";
  if (!KINDS.includes(kind)) throw new InvalidOptionError(`loadModel: kind must be one of ${KINDS.map((k) => `"${k}"`).join(", ")}, got ${String(kind)}`);
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (!OWN_KEYS.has(k)) rest[k] = v;
  const t = options.tokenizer;
  if (t !== undefined && t !== "byte" && t !== "gpt2" && t !== "none" && (typeof t !== "object" || t === null || typeof t.encode !== "function")) {
    throw new InvalidOptionError(`loadModel: tokenizer must be "byte", "gpt2", "none" or a Tokenizer, got ${String(t)}`);
  }
  if (options.dictionary !== undefined && typeof options.dictionary !== "string" && !(options.dictionary instanceof Uint8Array)) {
    throw new InvalidOptionError("loadModel: dictionary must be the text or bytes of dict.txt");
  }
  // Parse the dictionary before the weights, so a bad one fails fast.
  const dictTokenizer = options.dictionary !== undefined ? await Gpt2Tokenizer.load({ dictionary: options.dictionary }) : undefined;
  const model = await loadTnn(source, { ...(rest as ModelLoadOptions), causalLMClass: CausalLM });
  const isLM = model instanceof CausalLM;
  if ((kind === "causal-lm" && !isLM) || (kind === "encoder" && isLM)) {
    model.dispose();
    throw new ConfigError(
      isLM
        ? 'loadModel: these weights are a causal LM (decoder.*), not an encoder; pass { kind: "causal-lm" } or { kind: "auto" }'
        : 'loadModel: these weights are a bidirectional encoder (encoder.sentence_encoder.*), not a causal LM; pass { kind: "encoder" } or { kind: "auto" }',
    );
  }
  if (!(model instanceof CausalLM)) return model as TnnEncoder;
  try {
    if (options.maxLength !== undefined) model.maxLength = options.maxLength;
    model.tokenizer = await pickTokenizer(model.vocabSize, t, dictTokenizer);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

async function pickTokenizer(vocab: number, choice: LoadOptions["tokenizer"], dictTokenizer: Gpt2Tokenizer | undefined): Promise<Tokenizer | undefined> {
  let tok: Tokenizer | undefined;
  if (choice === "none") return undefined;
  if (typeof choice === "object") tok = choice;
  else if (choice === "byte") tok = new ByteTokenizer(vocab);
  else if (choice === "gpt2" || dictTokenizer) tok = dictTokenizer ?? (await Gpt2Tokenizer.load());
  else if (vocab === 256) tok = new ByteTokenizer();
  else if (vocab === GPT2_VOCAB_SIZE) tok = await Gpt2Tokenizer.load();
  if (tok && (tok.vocabSize > vocab || (choice === "byte" && vocab < 256))) {
    throw new TokenizerError(`the ${tok.name} tokenizer produces ids up to ${Math.max(tok.vocabSize, 256) - 1} but the model's vocabulary has ${vocab} tokens`);
  }
  return tok;
}
