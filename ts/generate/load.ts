/**
 * `loadModel`, the package's one public loader: a weights file in, a {@link CausalLM} (with decoding, generation
 * and a tokenizer) or a {@link TnnEncoder} out, as `options.kind` asks.
 * @module
 */
import { ConfigError, InvalidOptionError, TokenizerError } from "../core/errors.js";
import { TnnEncoder } from "../models/encoder.js";
import { type ReadOptions, checkReadOptions, openModel } from "../models/load.js";
import { TnnForCausalLM } from "../models/causal-lm.js";
import { classificationHeadsOf } from "../models/classification-head.js";
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

/** Options of {@link loadModel}. */
export interface LoadOptions extends ReadOptions {
  /** The model expected; default `"causal-lm"`. Weights of the other kind are refused, before their data is read. */
  readonly kind?: ModelKind;
  /**
   * The tokenizer of a causal LM. `"byte"`: ids are UTF-8 bytes. `"gpt2"`: GPT-2 BPE, through `dictionary` when
   * given. `"none"`: ids only. Default: `"gpt2"` when a dictionary is given or the vocabulary is GPT-2's 50,257,
   * `"byte"` for a 256-token vocabulary, else none.
   */
  readonly tokenizer?: Tokenizer | "byte" | "gpt2" | "none";
  /** fairseq `dict.txt` (text or bytes) mapping GPT-2 ids to model ids, as the official checkpoints need. */
  readonly dictionary?: string | Uint8Array;
  /** Longest sequence (prompt + generated) `generate` accepts; default: see {@link CausalLM.maxLength}. */
  readonly maxLength?: number;
  /**
   * Byte budget of each layer's Toeplitz kernel cache for whole-sequence forwards (default 64 MiB). A length's kernel
   * spectra are kept from its second forward on; a length seen once computes them on the fly.
   */
  readonly tnoCacheBytes?: number;
}

const OPTION_KEYS = new Set(["config", "dtype", "kind", "tokenizer", "dictionary", "maxLength", "tnoCacheBytes"]);
const KINDS: readonly ModelKind[] = ["causal-lm", "encoder", "auto"];

/** A model `loadModel` returns: a generate-capable causal LM, or an encoder. */
export type LoadedModel = CausalLM | TnnEncoder;

/**
 * Loads a TNN from safetensors under the official fairseq names. By default the weights must be a causal LM
 * (`decoder.*`), which comes back as a {@link CausalLM} with `generate()`, `decoder()` and a tokenizer;
 * `{ kind: "encoder" }` loads a {@link TnnEncoder} (`encoder.sentence_encoder.*`), `{ kind: "auto" }` either.
 * Initialises the wasm kernels if `init()` has not run.
 *
 * The file is read front to back and each tensor goes into wasm memory as it arrives, in the dtype the model keeps
 * it in, so a `Response`, stream, URL or file path is never held whole in JS memory. The header is checked against
 * the parameters the model declares before any tensor data is read.
 *
 * @param source safetensors bytes, an ArrayBuffer, a URL, a `Response`, a `ReadableStream`, or a file path (Node,
 *   Deno, Bun)
 * @throws {ConfigError} the weights are not of the kind asked for; the config is invalid, contradicts the weights,
 *   names an unsupported architecture, or cannot be inferred
 * @throws {WeightsFormatError} the file cannot be read or is not valid safetensors
 * @throws {WeightsMismatchError} tensors are missing, unexpected or mis-shaped (all listed)
 * @throws {InvalidOptionError} unknown or bad options
 * @throws {TokenizerError} a tokenizer whose vocabulary does not fit the model, or a malformed dictionary
 * @throws {OutOfMemoryError} the weights do not fit in wasm memory
 */
export function loadModel(source: WeightsSource, options?: LoadOptions & { readonly kind?: "causal-lm" }): Promise<CausalLM>;
export function loadModel(source: WeightsSource, options: LoadOptions & { readonly kind: "encoder" }): Promise<TnnEncoder>;
export function loadModel(source: WeightsSource, options: LoadOptions): Promise<LoadedModel>;
export async function loadModel(source: WeightsSource, options: LoadOptions = {}): Promise<LoadedModel> {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("loadModel: options must be an object");
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.has(k)) throw new InvalidOptionError(`loadModel: unknown option "${k}"; expected ${[...OPTION_KEYS].join(", ")}`);
  }
  const kind = options.kind ?? "causal-lm";
  if (!KINDS.includes(kind)) throw new InvalidOptionError(`loadModel: kind must be one of ${KINDS.map((k) => `"${k}"`).join(", ")}, got ${String(kind)}`);
  checkReadOptions(options);
  const t = options.tokenizer;
  if (t !== undefined && t !== "byte" && t !== "gpt2" && t !== "none" && (typeof t !== "object" || t === null || typeof t.encode !== "function")) {
    throw new InvalidOptionError(`loadModel: tokenizer must be "byte", "gpt2", "none" or a Tokenizer, got ${String(t)}`);
  }
  if (options.dictionary !== undefined && typeof options.dictionary !== "string" && !(options.dictionary instanceof Uint8Array)) {
    throw new InvalidOptionError("loadModel: dictionary must be the text or bytes of dict.txt");
  }
  const cacheBytes = options.tnoCacheBytes;
  if (cacheBytes !== undefined && (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0)) {
    throw new InvalidOptionError(`loadModel: tnoCacheBytes must be a non-negative integer, got ${String(cacheBytes)}`);
  }
  if (options.maxLength !== undefined) CausalLM.checkMaxLength(options.maxLength);
  // Parse the dictionary before the weights, so a bad one fails fast.
  const dictTokenizer = options.dictionary !== undefined ? await Gpt2Tokenizer.load({ dictionary: options.dictionary }) : undefined;

  const opened = await openModel(source, options);
  try {
    if (kind !== "auto" && kind !== opened.kind) {
      throw new ConfigError(
        opened.kind === "causal-lm"
          ? 'loadModel: these weights are a causal LM (decoder.*), not an encoder; pass { kind: "causal-lm" } or { kind: "auto" }'
          : 'loadModel: these weights are a bidirectional encoder (encoder.sentence_encoder.*), not a causal LM; pass { kind: "encoder" } or { kind: "auto" }',
      );
    }
    const body = { tnoCacheBytes: cacheBytes };
    if (opened.kind === "encoder") {
      const heads = classificationHeadsOf(opened.header);
      const parts = await opened.load((vb, config) => TnnEncoder.loadParts(vb, config, heads, body));
      return construct(() => new TnnEncoder(opened.config, parts), () => [parts.body, parts.lmHead, ...(parts.classificationHeads ?? [])]);
    }
    const parts = await opened.load((vb, config) => TnnForCausalLM.loadParts(vb, config, body));
    const model = construct(() => new CausalLM(opened.config, parts), () => [parts.body, parts.head]);
    try {
      if (options.maxLength !== undefined) model.maxLength = options.maxLength;
      model.tokenizer = await pickTokenizer(model.vocabSize, t, dictTokenizer);
    } catch (e) {
      model.dispose();
      throw e;
    }
    return model;
  } finally {
    await opened.close();
  }
}

/** `make()`, or, if it throws, the parts it would have owned freed. */
function construct<M>(make: () => M, parts: () => { dispose(): void }[]): M {
  try {
    return make();
  } catch (e) {
    for (const p of parts()) p.dispose();
    throw e;
  }
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
