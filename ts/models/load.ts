/**
 * Opening a weights file: its header and config first (no tensor data read, nothing allocated), then, for the
 * parameters a model declares, streaming the data into wasm and binding it.
 * @module
 */
import { ConfigError, InvalidOptionError, WeightsFormatError } from "../core/errors.js";
import { init } from "../core/wasm.js";
import { reserve } from "../core/memory.js";
import { Tensor } from "../core/tensor.js";
import { DeclaringVarBuilder, type ParamSpec, type VarBuilder } from "../nn/var-builder.js";
import { type TnnConfig, type TnnConfigJSON, configFromJSON, mixerChannels } from "./config.js";
import { checkConfigAgainstWeights, inferConfig } from "./infer-config.js";
import { type OfficialConfigJSON, isOfficialConfig, officialConfig } from "./official.js";
import { type SafetensorsHeader, readSafetensorsHeader } from "./safetensors.js";
import { type StagedDType, type StagedWeights, WeightStager } from "./weight-stager.js";
import { StagedVarBuilder, checkParams, stagedBytes, stagingTarget, tiedPairs } from "./weights.js";
import { ChunkReader, type WeightsSource, isUrlString, openByteStream } from "./weights-source.js";

/** A config as `loadModel` takes it. */
export type ConfigSource = TnnConfig | TnnConfigJSON | OfficialConfigJSON | string;

/** What a model file's reader needs to know (the models layer's share of `loadModel`'s options). */
export interface ReadOptions {
  /**
   * The config: a {@link TnnConfig}, config.json's snake_case object, the converter's
   * `{ fairseq_arch, fairseq_args }`, or the JSON text of either. Without it: a config.json beside a weights path or
   * URL; else the architecture recorded in the file's metadata; else inferred from the official names and shapes.
   */
  readonly config?: ConfigSource;
  /**
   * Storage of Linear and Embedding weights in wasm memory: `float32` (default), `float16` (half the memory) or
   * `int8` (a quarter: codes with one scale per row); products are computed in float32 either way.
   */
  readonly dtype?: StagedDType;
}

const DTYPES: readonly StagedDType[] = ["float32", "float16", "int8"];

/**
 * Checks the options this layer reads.
 * @throws {InvalidOptionError} a bad dtype
 */
export function checkReadOptions(options: ReadOptions): void {
  if (options.dtype !== undefined && !DTYPES.includes(options.dtype)) {
    throw new InvalidOptionError(`dtype must be "float32", "float16" or "int8", got ${String(options.dtype)}`);
  }
}

/** A weights file whose header has been read and whose config is decided; its data is not read yet. */
export interface OpenedModel {
  /** The config (final once {@link load} has run: an inferred one learns the nominal λ from the data). */
  readonly config: TnnConfig;
  readonly header: SafetensorsHeader;
  /** `"causal-lm"` for `decoder.*` models, `"encoder"` for `encoder.sentence_encoder.*`. */
  readonly kind: "causal-lm" | "encoder";
  /**
   * Declares the parameters `build` reads, checks the header against them, streams the data into wasm for them and
   * builds with the loaded tensors. On failure nothing is left allocated.
   * @throws {WeightsMismatchError} tensors missing, unexpected or mis-shaped (all listed), before any data is read
   * @throws {WeightsFormatError} the data is truncated or longer than the header says
   * @throws {OutOfMemoryError} the weights do not fit in wasm memory
   */
  load<P>(build: (vb: VarBuilder, config: TnnConfig) => P): Promise<P>;
  /** Releases the source (cancels a stream that was not read to its end). */
  close(): Promise<void>;
}

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

/** The official form of a config given as an object or JSON text, or undefined for our own schema. */
function officialForm(given: ConfigSource): OfficialConfigJSON | undefined {
  if (typeof given !== "string") return isOfficialConfig(given) ? given : undefined;
  try {
    const obj: unknown = JSON.parse(given);
    return isOfficialConfig(obj) ? obj : undefined;
  } catch {
    return undefined; // configFromJSON reports the syntax error
  }
}

/** The architecture the converter recorded in the file's metadata, if any. */
function recordedArch(header: SafetensorsHeader): OfficialConfigJSON | undefined {
  const arch = header.metadata.fairseq_arch;
  if (arch === undefined) return undefined;
  let args: unknown;
  try {
    args = JSON.parse(header.metadata.fairseq_args ?? "{}");
  } catch (e) {
    throw new ConfigError(`the file's __metadata__.fairseq_args is not valid JSON: ${(e as Error).message}`);
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) throw new ConfigError("the file's __metadata__.fairseq_args must be a JSON object");
  return { fairseq_arch: arch, fairseq_args: args as Record<string, unknown> };
}

/** The config: given (checked against the names), else recorded in the metadata, else inferred. */
function decideConfig(given: ConfigSource | undefined, header: SafetensorsHeader): { config: TnnConfig; inferred: boolean } {
  const official = given === undefined ? recordedArch(header) : officialForm(given);
  if (official) return { config: officialConfig(official.fairseq_arch, official.fairseq_args, header), inferred: false };
  if (given === undefined) return { config: inferConfig(header), inferred: true };
  const config = configFromJSON(given);
  checkConfigAgainstWeights(config, header);
  return { config, inferred: false };
}

function describe(c: TnnConfig): string {
  const kind = c.lmHead === "tied" ? "causal LM" : "encoder";
  return `${c.arch ? `${c.arch} ` : ""}${kind} with d_model ${c.dModel}, ${c.nLayers} layers, d1 ${mixerChannels(c)}`;
}

/**
 * Reads `source`'s header and decides its config; the data stays unread until {@link OpenedModel.load}.
 * Initialises the wasm kernels if `init()` has not run.
 * @throws {WeightsFormatError} the source cannot be read or its header is not valid safetensors, or a byte source's
 *   length differs from what its header describes
 * @throws {ConfigError} the config is invalid, contradicts the weights, names an unsupported architecture, or
 *   cannot be inferred
 * @throws {InvalidOptionError} bad options
 */
export async function openModel(source: WeightsSource, options: ReadOptions = {}): Promise<OpenedModel> {
  checkReadOptions(options);
  await init();
  const given = options.config ?? (await configBeside(source));
  const reader = new ChunkReader(await openByteStream(source));
  try {
    const header = await readSafetensorsHeader(reader);
    const length = source instanceof Uint8Array ? source.length : source instanceof ArrayBuffer ? source.byteLength : undefined;
    if (length !== undefined && length !== reader.consumed + header.dataBytes) {
      throw new WeightsFormatError(
        `safetensors: the file is ${length} bytes but its header describes ${reader.consumed + header.dataBytes} ` +
          `(${reader.consumed} of header, ${header.dataBytes} of data)${length < reader.consumed + header.dataBytes ? "; truncated?" : ""}`,
      );
    }
    let { config, inferred } = decideConfig(given, header);
    const dtype = options.dtype ?? "float32";
    return {
      get config() {
        return config;
      },
      header,
      kind: config.lmHead === "tied" ? "causal-lm" : "encoder",
      async load<P>(build: (vb: VarBuilder, config: TnnConfig) => P): Promise<P> {
        const declared = new DeclaringVarBuilder();
        build(declared, config);
        const specs = declared.specs;
        checkParams(specs, header, describe(config));
        reserve(stagedBytes(specs, header, dtype), `loading the weights of a ${describe(config)}`);
        const stager = new WeightStager(header, stagingTarget(specs, dtype), tiedPairs(specs));
        let staged: StagedWeights;
        try {
          for (let chunk = await reader.next(); chunk; chunk = await reader.next()) stager.write(chunk);
          staged = stager.finish();
        } catch (e) {
          stager.dispose();
          throw e;
        }
        const vb = new StagedVarBuilder(staged);
        try {
          if (inferred && config.gamma !== null) config = { ...config, gamma: nominalGamma(staged, specs) ?? config.gamma };
          return build(vb, config);
        } catch (e) {
          vb.disposeHandedOut();
          throw e;
        } finally {
          staged.dispose();
        }
      },
      close: () => reader.close(),
    };
  } catch (e) {
    await reader.close();
    throw e;
  }
}

/** The first λ of the first layer's decay, as staged: what an inferred config reports as its nominal λ. */
function nominalGamma(staged: StagedWeights, specs: readonly ParamSpec[]): number | undefined {
  const spec = specs.find((s) => s.name.endsWith(".toep.gamma"));
  const t = spec && staged.peek(spec.name);
  if (!(t instanceof Tensor) || t.size === 0) return undefined;
  const v = (t as Tensor<"float32">).data[0]!;
  return v > 0 && v <= 1 ? v : undefined;
}
