/**
 * Finding and loading the model the CLI runs: `--model` (a directory with model.safetensors and config.json, a
 * .safetensors file, or the name of a model shipped with the package), `--config`, `--dict`, or by default the
 * shipped model.
 * @module
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TnnError } from "../core/errors.js";
import { init } from "../core/wasm.js";
import { type LoadedModel, loadModel } from "../generate/load.js";
import { parseSafetensors } from "../models/safetensors.js";

/** A model that could not be found or read (exit status 1). */
export class ModelFileError extends TnnError {}

/** Name of the model shipped with the package, under models/. */
export const DEFAULT_MODEL_NAME = "kjv-byte";

/**
 * The package's models/ directory. The CLI runs from ts/cli (development) or from the bundle in dist/, so both
 * relative places are tried.
 */
export function shippedModelsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "..", "..", "models"), join(here, "..", "models")];
  return candidates.find((d) => existsSync(join(d, DEFAULT_MODEL_NAME, "model.safetensors"))) ?? candidates[0]!;
}

/** The shipped model's directory. */
export function defaultModelDir(): string {
  return join(shippedModelsDir(), DEFAULT_MODEL_NAME);
}

/** Names of the models shipped with the package: the directories of models/ that hold a model.safetensors. */
export function shippedModelNames(): string[] {
  const dir = shippedModelsDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => existsSync(join(dir, n, "model.safetensors"))).sort();
}

/** The files of one model. */
export interface ModelFiles {
  readonly weights: string;
  /** config.json to use, if any (else the loader infers the config from the weight names). */
  readonly config: string | undefined;
  /** fairseq dict.txt, if any. */
  readonly dictionary: string | undefined;
  /** The directory the weights are in, where files that come with a model (heldout.txt) are looked for. */
  readonly dir: string;
}

/**
 * Resolves `--model`/`--config`/`--dict` to files. A model is a path (directory or .safetensors file, relative to
 * the working directory) or, when no such path exists, the name of a shipped model (`kjv-byte`), so that the same
 * command works in a clone and from an installed package.
 * @throws {ModelFileError} neither an existing path nor a shipped model's name, or a directory without model.safetensors
 */
export function modelFiles(model: string | undefined, config?: string, dict?: string): ModelFiles {
  let path = resolve(model ?? defaultModelDir());
  if (model !== undefined && !existsSync(path) && shippedModelNames().includes(model)) path = join(shippedModelsDir(), model);
  if (!existsSync(path)) {
    if (model === undefined) throw new ModelFileError(`the shipped model is missing: ${path} (run the bootstrap or pass --model)`);
    const names = shippedModelNames();
    throw new ModelFileError(`no such model: ${path} is not a file or directory, and ${JSON.stringify(model)} is not a shipped model` +
      (names.length ? ` (shipped: ${names.join(", ")})` : ""));
  }
  let weights = path;
  let dir = dirname(path);
  if (statSync(path).isDirectory()) {
    dir = path;
    weights = join(path, "model.safetensors");
    if (!existsSync(weights)) throw new ModelFileError(`${path} has no model.safetensors`);
  }
  const cfg = config !== undefined ? resolve(config) : existsSync(join(dir, "config.json")) ? join(dir, "config.json") : undefined;
  if (cfg !== undefined && !existsSync(cfg)) throw new ModelFileError(`no such config file: ${cfg}`);
  const dic = dict !== undefined ? resolve(dict) : existsSync(join(dir, "dict.txt")) ? join(dir, "dict.txt") : undefined;
  if (dic !== undefined && !existsSync(dic)) throw new ModelFileError(`no such dictionary file: ${dic}`);
  return { weights, config: cfg, dictionary: dic, dir };
}

/** Loads the model of {@link modelFiles}; `gamma` replaces every channel's decay λ (1 = no decay). */
export async function loadModelFiles(
  files: ModelFiles,
  options: { dtype?: "float32" | "float16" | "int8"; gamma?: number; threads?: number } = {},
): Promise<LoadedModel> {
  // Before loadModel, whose own init() would start the default thread count.
  if (options.threads !== undefined) await init({ threads: options.threads });
  const source = options.gamma === undefined ? files.weights : withDecay(readFileSync(files.weights), options.gamma);
  return loadModel(source, {
    kind: "auto",
    ...(files.config !== undefined ? { config: readFileSync(files.config, "utf8") } : {}),
    ...(files.dictionary !== undefined ? { dictionary: readFileSync(files.dictionary) } : {}),
    ...(options.dtype ? { dtype: options.dtype } : {}),
  });
}

/**
 * The weights with every `toep.gamma` value set to `gamma`: the length-extrapolation control experiment (the same model with
 * its decay removed) without writing a second file.
 * @throws {ModelFileError} the model has no decay to replace
 */
export function withDecay(bytes: Uint8Array, gamma: number): Uint8Array {
  const out = new Uint8Array(bytes); // a copy (Buffer.slice would share the caller's bytes)
  const file = parseSafetensors(out);
  let found = 0;
  for (const name of file.names()) {
    if (!name.endsWith(".toep.gamma")) continue;
    const t = file.get(name)!;
    const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
    const n = t.shape.reduce((a, b) => a * b, 1);
    for (let i = 0; i < n; i++) {
      if (t.dtype === "F32") dv.setFloat32(4 * i, gamma, true);
      else if (t.dtype === "F16") dv.setUint16(2 * i, f32ToF16Bits(gamma), true);
      else if (t.dtype === "BF16") dv.setUint16(2 * i, f32ToBf16Bits(gamma), true);
      else throw new ModelFileError(`${name} has dtype ${t.dtype}; expected F32, F16 or BF16`);
    }
    found++;
  }
  if (found === 0) throw new ModelFileError("--gamma: this model has no toep.gamma (no decay) to replace");
  return out;
}

/** IEEE half bits of a value in the normal range (decays are in (0, 1]), rounded to nearest even. */
function f32ToF16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (exp <= 0 || exp >= 31) throw new ModelFileError(`--gamma ${x} is not representable as a normal float16`);
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  return h;
}

function f32ToBf16Bits(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}
