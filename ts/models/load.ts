/**
 * `loadModel`: weights (and a config) in, the right model class out.
 * @module
 */
import { ConfigError, InvalidOptionError } from "../core/errors.js";
import { init } from "../core/wasm.js";
import { type CausalLMParts, TnnForCausalLM } from "./causal-lm.js";
import { type TnnConfig, type TnnConfigJSON, checkConfigAgainstWeights, configFromJSON, inferConfig } from "./config.js";
import { TnnEncoder } from "./encoder.js";
import { type SafetensorsFile, type SafetensorsHeader, readSafetensorsHeader } from "./safetensors.js";
import { type StagedWeights, WeightStager } from "./weight-stager.js";
import { type BindOptions, bindCausalLM, bindEncoder, checkWeights, parseBindOptions, stagingTarget, stateDictView, tiedPairs } from "./weights.js";
import { ChunkReader, type WeightsSource, isUrlString, openByteStream } from "./weights-source.js";

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
 * The file is read front to back and each tensor goes into wasm memory as it arrives, in the dtype the model keeps
 * it in, so a `Response`, stream, URL or file path is never held whole in JS memory. The header is checked against
 * the config before any tensor data is read.
 *
 * @param source safetensors bytes, an ArrayBuffer, a URL, a `Response`, a `ReadableStream`, or a file path (Node,
 *   Deno, Bun)
 * @throws {WeightsFormatError} the file cannot be read or is not valid safetensors
 * @throws {ConfigError} the config is invalid, contradicts the weights, or cannot be inferred
 * @throws {WeightsMismatchError} tensors are missing, unexpected or mis-shaped (all listed)
 * @throws {InvalidOptionError} unknown or bad options
 * @throws {OutOfMemoryError} the weights do not fit in wasm memory
 */
export async function loadModel(source: WeightsSource, options: LoadOptions = {}): Promise<TnnModel> {
  checkLoadOptions(options);
  await init();
  const given = options.config ?? (await configBeside(source));
  const config = given === undefined ? undefined : configFromJSON(given);
  const reader = new ChunkReader(await openByteStream(source));
  try {
    const header = await readSafetensorsHeader(reader);
    const stager = newStager(header, config, options);
    try {
      for (let chunk = await reader.next(); chunk; chunk = await reader.next()) stager.write(chunk);
      return assemble(header, stager.finish(), config, options);
    } catch (e) {
      stager.dispose();
      throw e;
    }
  } finally {
    await reader.close();
  }
}

/**
 * Builds the model from a parsed file (synchronous; `init()` must have completed). Without `config`, it is inferred.
 * @throws as {@link loadModel}
 */
export function buildModel(file: SafetensorsFile, config: TnnConfig | undefined, options: LoadOptions = {}): TnnModel {
  checkLoadOptions(options);
  const stager = newStager(file, config, options);
  try {
    for (const t of file.inDataOrder()) stager.write(t.bytes);
    return assemble(file, stager.finish(), config, options);
  } catch (e) {
    stager.dispose();
    throw e;
  }
}

function checkLoadOptions(options: LoadOptions): void {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("loadModel: options must be an object");
  for (const k of Object.keys(options)) {
    if (!OPTION_KEYS.has(k)) throw new InvalidOptionError(`loadModel: unknown option "${k}"; expected ${[...OPTION_KEYS].join(", ")}`);
  }
  if (options.causalLMClass !== undefined && typeof options.causalLMClass !== "function") {
    throw new InvalidOptionError("loadModel: causalLMClass must be a class");
  }
  parseBindOptions(options);
}

/**
 * Checks the header against the config (given, or inferred from names and shapes) before any data is read, and
 * prepares to stage the data for it.
 */
function newStager(header: SafetensorsHeader, config: TnnConfig | undefined, options: LoadOptions): WeightStager {
  const cfg = config ?? inferConfig(stateDictView(header));
  if (config) checkConfigAgainstWeights(cfg, stateDictView(header));
  checkWeights(cfg, header);
  return new WeightStager(header, stagingTarget(cfg, header, parseBindOptions(options).dtype), tiedPairs(cfg));
}

/** The model from staged weights; an inferred config is inferred again now that values (gamma) can be read. */
function assemble(header: SafetensorsHeader, staged: StagedWeights, config: TnnConfig | undefined, options: LoadOptions): TnnModel {
  let cfg: TnnConfig;
  try {
    cfg = config ?? inferConfig(stateDictView(header, staged));
  } catch (e) {
    staged.dispose();
    throw e;
  }
  const bindOptions: BindOptions = { dtype: options.dtype, tnoCacheBytes: options.tnoCacheBytes };
  if (cfg.lmHead === "tied") {
    const parts = bindCausalLM(cfg, staged, bindOptions);
    try {
      return new (options.causalLMClass ?? TnnForCausalLM)(cfg, parts);
    } catch (e) {
      disposeParts([parts.embed, ...parts.layers, parts.finalNorm, parts.head]);
      throw e;
    }
  }
  const parts = bindEncoder(cfg, staged, header, bindOptions);
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
