/**
 * Binding a state dict under the OFFICIAL fairseq parameter names to the model's layers: every expected tensor is
 * checked (present, float, right shape) before any wasm memory is touched, and everything is reported at once.
 * @module
 */
import { InvalidOptionError, WeightsFormatError, WeightsMismatchError } from "../core/errors.js";
import { type Matrix, QuantizedMatrix } from "../core/quantized-matrix.js";
import { type Tensor } from "../core/tensor.js";
import { Embedding } from "../nn/embedding.js";
import { Glu } from "../nn/glu.js";
import { Gtu } from "../nn/gtu.js";
import { LayerNorm } from "../nn/layer-norm.js";
import { Linear } from "../nn/linear.js";
import { Rpe } from "../nn/rpe.js";
import { Tno } from "../nn/tno.js";
import { TnnBlock } from "../nn/tnn-block.js";
import { type CausalLMParts } from "./causal-lm.js";
import { ClassificationHead } from "./classification-head.js";
import { type StateDictView, type TnnConfig, bodyPrefix, mixerChannels } from "./config.js";
import { type EncoderParts } from "./encoder.js";
import { MlmHead } from "./mlm-head.js";
import { type SafetensorsHeader, type SafetensorsTensor } from "./safetensors.js";
import { type StagedDType, type StagedWeights, type StagingTarget, floatsOf } from "./weight-stager.js";

type F32 = Tensor<"float32">;

/** Options of weight binding. */
export interface BindOptions {
  /**
   * Storage of Linear and Embedding weights in wasm memory: `float32` (default), `float16` (half the memory) or
   * `int8` (a quarter: codes with one scale per row, see {@link QuantizedMatrix}); products are computed in float32
   * either way. Biases, norms, RPE and gamma are always float32.
   */
  readonly dtype?: "float32" | "float16" | "int8";
  /** Byte budget of each TNO's coefficient/spectra cache (default 64 MiB). */
  readonly tnoCacheBytes?: number;
}

/** Bookkeeping tensors that carry no parameters. */
const IGNORED = new Set(["decoder.version", "encoder.version", "encoder.sentence_encoder.version"]);

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16"]);

const CLASSIFIER_RE = /^classification_heads\.([^.]+)\.(dense|out_proj)\.(weight|bias)$/;

interface Expected {
  readonly shape: readonly number[];
  /** Filled from elsewhere when absent (the tied output projection). */
  readonly optional?: boolean;
  /** Where it is kept: a Linear or Embedding weight in the storage dtype, RPE and gamma in JS, the rest as float32. */
  readonly kind?: "matrix" | "host";
}

const fmt = (s: readonly number[]): string => `[${s.join(", ")}]`;

/** The tensors a model of `config` reads, under the official names, with their shapes. */
export function expectedWeights(config: TnnConfig, file?: SafetensorsHeader): Map<string, Expected> {
  const { dModel: d, vocabSize: V, nHeads: h, rpeDim: e, gluDim: g } = config;
  const d1 = mixerChannels(config);
  const P = bodyPrefix(config);
  const w = new Map<string, Expected>();
  type Kind = Expected["kind"];
  const add = (name: string, shape: readonly number[], optional = false, kind?: Kind): void => void w.set(name, { shape, optional, kind });
  const linear = (name: string, out: number, inF: number, kind: Kind = "matrix"): void => {
    add(`${name}.weight`, [out, inF], false, kind);
    add(`${name}.bias`, [out], false, kind === "host" ? "host" : undefined);
  };
  const norm = (name: string): void => {
    add(`${name}.weight`, [d]);
    add(`${name}.bias`, [d]);
  };
  add(`${P}embed_tokens.weight`, [V, d], false, "matrix");
  if (config.embeddingLayernorm) norm(`${P}layernorm_embedding`);
  for (let i = 0; i < config.nLayers; i++) {
    const G = `${P}layers.${i}.self_attn.gtu.`;
    linear(`${G}u_proj`, d1, d);
    linear(`${G}v_proj`, d1, d);
    linear(`${G}o`, d, d1);
    // The Rpe and Tno layers take their parameters as JS arrays.
    if (config.gamma !== null) add(`${G}toep.gamma`, [h, 1, d1 / h], false, "host");
    linear(`${G}toep.rpe.pos_proj`, e, 1, "host");
    for (let r = 0; r < config.rpeLayers; r++) linear(`${G}toep.rpe.layers.${r}.2`, e, e, "host");
    linear(`${G}toep.rpe.out.2`, d1, e, "host");
    const L = `${P}layers.${i}.glu.`;
    linear(`${L}l1`, g, d);
    linear(`${L}l2`, g, d);
    linear(`${L}l3`, d, g);
  }
  if (config.finalNorm === "layernorm") norm(`${P}layer_norm`);
  if (config.lmHead === "tied") {
    add("decoder.output_projection.weight", [V, d], true, "matrix");
  } else {
    linear("encoder.lm_head.dense", d, d);
    norm("encoder.lm_head.layer_norm");
    add("encoder.lm_head.weight", [V, d], true, "matrix");
    add("encoder.lm_head.bias", [V]);
    for (const head of classificationHeadNames(file)) {
      const dense = file!.get(`classification_heads.${head}.dense.weight`)?.shape;
      const out = file!.get(`classification_heads.${head}.out_proj.weight`)?.shape;
      const inner = dense?.length === 2 ? dense[0]! : d;
      const classes = out?.length === 2 ? out[0]! : 1;
      linear(`classification_heads.${head}.dense`, inner, d);
      linear(`classification_heads.${head}.out_proj`, classes, inner);
    }
  }
  return w;
}

function classificationHeadNames(file: SafetensorsHeader | undefined): string[] {
  if (!file) return [];
  const names = new Set<string>();
  for (const n of file.names()) {
    const m = CLASSIFIER_RE.exec(n);
    if (m) names.add(m[1]!);
  }
  return [...names].sort();
}

/**
 * Lists every missing, unexpected, non-float and mis-shaped tensor.
 * @throws {WeightsMismatchError} with one line per problem
 */
export function checkWeights(config: TnnConfig, file: SafetensorsHeader): void {
  const expected = expectedWeights(config, file);
  const problems: string[] = [];
  for (const [name, x] of expected) {
    const t = file.get(name);
    if (!t) {
      if (!x.optional) problems.push(`missing ${name}: expected shape ${fmt(x.shape)}`);
      continue;
    }
    if (!FLOAT_DTYPES.has(t.dtype)) problems.push(`${name}: dtype ${t.dtype} is not supported; expected F32, F16 or BF16`);
    if (t.shape.length !== x.shape.length || t.shape.some((s, i) => s !== x.shape[i])) {
      problems.push(`${name}: expected shape ${fmt(x.shape)}, got ${fmt(t.shape)}`);
    }
  }
  for (const name of file.names()) {
    if (!expected.has(name) && !IGNORED.has(name)) problems.push(`unexpected ${name} ${fmt(file.get(name)!.shape)}`);
  }
  if (problems.length) {
    throw new WeightsMismatchError(`the weights do not fit a ${describe(config)} (${problems.length} problem${problems.length > 1 ? "s" : ""})`, problems);
  }
}

function describe(c: TnnConfig): string {
  return `${c.lmHead === "tied" ? "causal LM" : "encoder"} with d_model ${c.dModel}, ${c.nLayers} layers, d1 ${mixerChannels(c)}`;
}

/**
 * A {@link StateDictView} of a safetensors file or header. Values come from the file's bytes when it has them, else
 * from `staged` (a header streamed into wasm); without either, `firstValue` is undefined.
 */
export function stateDictView(file: SafetensorsHeader, staged?: StagedWeights): StateDictView {
  return {
    names: () => file.names(),
    shape: (name) => file.get(name)?.shape,
    firstValue: (name) => {
      const t = file.get(name);
      if (!t) return undefined;
      if (!("bytes" in t)) return staged?.host(name)?.[0];
      const bytes = (t as SafetensorsTensor).bytes;
      const size = t.dtype === "F32" ? 4 : t.dtype === "F16" || t.dtype === "BF16" ? 2 : 0;
      return size > 0 && bytes.length >= size ? floatsOf(bytes.subarray(0, size), t.dtype)[0] : undefined;
    },
  };
}

/** Where each tensor of a checked file goes when staged: matrices in the storage dtype, RPE and gamma in JS, the rest as float32. */
export function stagingTarget(config: TnnConfig, file: SafetensorsHeader, dtype: StagedDType): StagingTarget {
  const expected = expectedWeights(config, file);
  return (name) => {
    const x = expected.get(name);
    return x === undefined ? undefined : x.kind === "matrix" ? dtype : x.kind === "host" ? "host" : "float32";
  };
}

/** The output projection and the embedding it is tied to, which files often store twice. */
export function tiedPairs(config: TnnConfig): [string, string][] {
  return config.lmHead === "tied"
    ? [["decoder.embed_tokens.weight", "decoder.output_projection.weight"]]
    : [["encoder.sentence_encoder.embed_tokens.weight", "encoder.lm_head.weight"]];
}


function sameElements(a: Matrix, b: Matrix): boolean {
  if (a instanceof QuantizedMatrix || b instanceof QuantizedMatrix) {
    return a instanceof QuantizedMatrix && b instanceof QuantizedMatrix && a.equals(b);
  }
  if (a.dtype !== b.dtype || a.size !== b.size) return false;
  if (a.ptr === b.ptr) return true;
  const x = a.data;
  const y = b.data;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
  return true;
}

/** Hands staged tensors to the layers and remembers everything it made, so a failure can free it all. */
class Binder {
  readonly #made: { dispose(): void }[] = [];

  constructor(readonly staged: StagedWeights) {}

  keep<T extends { dispose(): void }>(x: T): T {
    this.#made.push(x);
    return x;
  }

  /** A float32 parameter (staged as float32 by {@link stagingTarget}). */
  f32(name: string): F32 {
    return this.keep(this.staged.take(name) as F32);
  }

  /** A Linear/Embedding weight in the storage dtype. */
  matrix(name: string): Matrix {
    return this.keep(this.staged.take(name));
  }

  /** A float32 copy in JS memory (small parameters: RPE, gamma). */
  host(name: string): Float32Array {
    const a = this.staged.host(name);
    if (!a) throw new WeightsFormatError(`internal: tensor "${name}" was not staged for the host`);
    return a;
  }

  linear(name: string): Linear {
    return this.keep(new Linear(this.matrix(`${name}.weight`), this.f32(`${name}.bias`)));
  }

  layerNorm(name: string, eps = 1e-5): LayerNorm {
    return this.keep(new LayerNorm(this.f32(`${name}.weight`), this.f32(`${name}.bias`), eps));
  }

  /** The output projection tied to `embed`: shares its storage when the file holds the same values or nothing. */
  tied(name: string, embed: Embedding): Matrix {
    const t = this.staged.peek(name);
    if (t && !sameElements(t, embed.weight)) return this.matrix(name);
    if (t) this.staged.take(name).dispose();
    const w = embed.weight;
    return this.keep(w instanceof QuantizedMatrix ? w.share() : w.reshape(w.dims));
  }

  disposeAll(): void {
    for (const x of this.#made.reverse()) x.dispose();
  }
}

function bindBody(b: Binder, config: TnnConfig, cacheBytes: number | undefined) {
  const P = bodyPrefix(config);
  const embed = b.keep(new Embedding(b.matrix(`${P}embed_tokens.weight`), config.embedScale));
  const embedNorm = config.embeddingLayernorm ? b.layerNorm(`${P}layernorm_embedding`) : undefined;
  const layers: TnnBlock[] = [];
  for (let i = 0; i < config.nLayers; i++) {
    const G = `${P}layers.${i}.self_attn.gtu.`;
    const R = `${G}toep.rpe.`;
    const rpe = b.keep(new Rpe({
      posWeight: b.host(`${R}pos_proj.weight`),
      posBias: b.host(`${R}pos_proj.bias`),
      layers: Array.from({ length: config.rpeLayers }, (_, r) => ({
        weight: b.host(`${R}layers.${r}.2.weight`),
        bias: b.host(`${R}layers.${r}.2.bias`),
      })),
      outWeight: b.host(`${R}out.2.weight`),
      outBias: b.host(`${R}out.2.bias`),
    }));
    const tno = b.keep(new Tno(rpe, {
      causal: config.causal,
      heads: config.nHeads,
      gamma: config.gamma === null ? undefined : b.host(`${G}toep.gamma`),
      cacheBytes,
    }));
    const mixer = b.keep(new Gtu(b.linear(`${G}u_proj`), b.linear(`${G}v_proj`), b.linear(`${G}o`), tno));
    const L = `${P}layers.${i}.glu.`;
    const glu = b.keep(new Glu(b.linear(`${L}l1`), b.linear(`${L}l2`), b.linear(`${L}l3`)));
    layers.push(b.keep(new TnnBlock({ mixer, glu, prenorm: config.prenorm })));
  }
  const finalNorm = config.finalNorm === "layernorm" ? b.layerNorm(`${P}layer_norm`) : undefined;
  return { embed, embedNorm, layers, finalNorm };
}

/** @throws {InvalidOptionError} a bad dtype or cache size */
export function parseBindOptions(options: BindOptions): { dtype: "float32" | "float16" | "int8"; cacheBytes: number | undefined } {
  const dtype = options.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float16" && dtype !== "int8") {
    throw new InvalidOptionError(`dtype must be "float32", "float16" or "int8", got ${String(dtype)}`);
  }
  const cacheBytes = options.tnoCacheBytes;
  if (cacheBytes !== undefined && (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0)) {
    throw new InvalidOptionError(`tnoCacheBytes must be a non-negative integer, got ${String(cacheBytes)}`);
  }
  return { dtype, cacheBytes };
}

function bind<T>(staged: StagedWeights, options: BindOptions, build: (b: Binder, cacheBytes: number | undefined) => T): T {
  const { cacheBytes } = parseBindOptions(options);
  const b = new Binder(staged);
  try {
    return build(b, cacheBytes);
  } catch (e) {
    b.disposeAll();
    throw e;
  } finally {
    staged.dispose();
  }
}

/**
 * The layers of a causal LM (`lmHead: "tied"`) from weights staged for `config` (see {@link stagingTarget}); a
 * missing `decoder.output_projection.weight` is the embedding, and one equal to it shares its storage. Takes over
 * the staged tensors; whatever is left is freed.
 */
export function bindCausalLM(config: TnnConfig, staged: StagedWeights, options: BindOptions = {}): CausalLMParts {
  return bind(staged, options, (b, cacheBytes) => {
    const { embed, layers, finalNorm } = bindBody(b, config, cacheBytes);
    const head = b.keep(new Linear(b.tied("decoder.output_projection.weight", embed)));
    return { embed, layers, finalNorm, head };
  });
}

/**
 * The layers of an encoder (`lmHead: "mlm"`) from weights staged for `config`, with each of `classificationHeads`;
 * a missing `encoder.lm_head.weight` is the embedding. Takes over the staged tensors; whatever is left is freed.
 */
export function bindEncoder(config: TnnConfig, staged: StagedWeights, file: SafetensorsHeader, options: BindOptions = {}): EncoderParts {
  return bind(staged, options, (b, cacheBytes) => {
    const body = bindBody(b, config, cacheBytes);
    const decoder = b.keep(new Linear(b.tied("encoder.lm_head.weight", body.embed), b.f32("encoder.lm_head.bias")));
    const lmHead = b.keep(new MlmHead(b.linear("encoder.lm_head.dense"), b.layerNorm("encoder.lm_head.layer_norm"), decoder));
    const classificationHeads = classificationHeadNames(file).map((name) =>
      b.keep(new ClassificationHead(name, b.linear(`classification_heads.${name}.dense`), b.linear(`classification_heads.${name}.out_proj`))),
    );
    return { ...body, lmHead, classificationHeads };
  });
}
