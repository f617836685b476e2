/**
 * `loadModel`: weights (and a config) in, the right model class out.
 * @module
 */
import { ConfigError, InvalidOptionError } from "../core/errors.js";
import { init } from "../core/wasm.js";
import { type CausalLMParts, TnnForCausalLM } from "./causal-lm.js";
import { type TnnConfig, type TnnConfigJSON, checkConfigAgainstWeights, configFromJSON, inferConfig } from "./config.js";
import { TnnEncoder } from "./encoder.js";
import { type SafetensorsFile, type WeightsSource, isUrlString, parseSafetensors, readSourceBytes } from "./safetensors.js";
import { type BindOptions, bindCausalLM, bindEncoder, stateDictView } from "./weights.js";

/** Either model `loadModel` can return. */
export type TnnModel = TnnForCausalLM | TnnEncoder;

/** Options of {@link loadModel}. */
export interface LoadOptions extends BindOptions {
  /**
   * The config: a {@link TnnConfig}, config.json's snake_case object, or its JSON text. Without it, a config.json
   * beside a weights path or URL is read if present, else the config is inferred from the official names and shapes.
   */
  readonly config?: TnnConfig | TnnConfigJSON | string;
  /**
   * @internal The class built for causal LMs, so a later layer (ts/generate) can supply a subclass. It is called as
   * `new causalLMClass(config, parts)`.
   */
  readonly causalLMClass?: new (config: TnnConfig, parts: CausalLMParts) => TnnForCausalLM;
}

const OPTION_KEYS = new Set(["config", "dtype", "tnoCacheBytes", "causalLMClass"]);

/** config.json beside a weights path or URL, or undefined when there is none. */
async function configBeside(source: WeightsSource): Promise<string | undefined> {
  let url: URL | undefined;
  if (source instanceof URL) url = source;
  else if (typeof source === "string" && isUrlString(source)) url = new URL(source);
  if (url && url.protocol !== "file:") {
    let res: Response;
    try {
      res = await fetch(new URL("config.json", url));
    } catch {
      return undefined;
    }
    return res.ok ? res.text() : undefined;
  }
  if (!url && typeof source !== "string") return undefined;
  const fs = await import("node:fs/promises");
  let path: URL | string;
  if (url) {
    path = new URL("config.json", url);
  } else {
    const { dirname, join } = await import("node:path");
    path = join(dirname(source as string), "config.json");
  }
  try {
    return await fs.readFile(path, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw new ConfigError(`could not read ${String(path)}: ${(e as Error).message}`);
  }
}

/**
 * Loads a TNN from safetensors under the official fairseq names: a {@link TnnForCausalLM} for `decoder.*` weights
 * (config `lm_head: "tied"`), a {@link TnnEncoder} for `encoder.sentence_encoder.*` (`lm_head: "mlm"`).
 * Initialises the wasm kernels if `init()` has not run.
 *
 * @param source safetensors bytes, an ArrayBuffer, a URL, a `Response`, or a file path (Node, Deno, Bun)
 * @throws {WeightsFormatError} the file cannot be read or is not valid safetensors
 * @throws {ConfigError} the config is invalid, contradicts the weights, or cannot be inferred
 * @throws {WeightsMismatchError} tensors are missing, unexpected or mis-shaped (all listed)
 * @throws {InvalidOptionError} unknown or bad options
 */
export async function loadModel(source: WeightsSource, options: LoadOptions = {}): Promise<TnnModel> {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("loadModel: options must be an object");
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.has(k)) throw new InvalidOptionError(`loadModel: unknown option "${k}"; expected ${[...OPTION_KEYS].join(", ")}`);
  }
  if (options.causalLMClass !== undefined && typeof options.causalLMClass !== "function") {
    throw new InvalidOptionError("loadModel: causalLMClass must be a class");
  }
  await init();
  const file = parseSafetensors(await readSourceBytes(source));
  const given = options.config ?? (await configBeside(source));
  return buildModel(file, given === undefined ? undefined : configFromJSON(given), options);
}

/**
 * Builds the model from a parsed file (synchronous; `init()` must have completed). Without `config`, it is inferred.
 * @throws as {@link loadModel}
 */
export function buildModel(file: SafetensorsFile, config: TnnConfig | undefined, options: LoadOptions = {}): TnnModel {
  const view = stateDictView(file);
  const cfg = config ?? inferConfig(view);
  if (config) checkConfigAgainstWeights(cfg, view);
  const bindOptions: BindOptions = { dtype: options.dtype, tnoCacheBytes: options.tnoCacheBytes };
  if (cfg.lmHead === "tied") {
    const parts = bindCausalLM(cfg, file, bindOptions);
    try {
      return new (options.causalLMClass ?? TnnForCausalLM)(cfg, parts);
    } catch (e) {
      disposeParts([parts.embed, ...parts.layers, parts.finalNorm, parts.head]);
      throw e;
    }
  }
  const parts = bindEncoder(cfg, file, bindOptions);
  try {
    return new TnnEncoder(cfg, parts);
  } catch (e) {
    disposeParts([parts.embed, parts.embedNorm, ...parts.layers, parts.finalNorm, parts.lmHead, ...(parts.classificationHeads ?? [])]);
    throw e;
  }
}

function disposeParts(parts: ({ dispose(): void } | undefined)[]): void {
  for (const p of parts) p?.dispose();
}
