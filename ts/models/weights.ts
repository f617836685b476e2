/**
 * Binding a state dict under the OFFICIAL fairseq parameter names to the model's layers: every expected tensor is
 * checked (present, float, right shape) before any wasm memory is touched, and everything is reported at once.
 * @module
 */
import { InvalidOptionError, WeightsMismatchError } from "../core/errors.js";
import { bf16ToF32, f16ToF32, f32ToF16 } from "../core/ops.js";
import { Tensor } from "../core/tensor.js";
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
import { type SafetensorsFile, type SafetensorsTensor } from "./safetensors.js";

type F32 = Tensor<"float32">;
type Matrix = Tensor<"float32" | "float16">;

/** Options of weight binding. */
export interface BindOptions {
  /**
   * Storage of Linear and Embedding weights in wasm memory: `float32` (default) or `float16` (half the memory;
   * products are computed in float32 either way). Biases, norms, RPE and gamma are always float32.
   */
  readonly dtype?: "float32" | "float16";
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
}

const fmt = (s: readonly number[]): string => `[${s.join(", ")}]`;

/** The tensors a model of `config` reads, under the official names, with their shapes. */
export function expectedWeights(config: TnnConfig, file?: SafetensorsFile): Map<string, Expected> {
  const { dModel: d, vocabSize: V, nHeads: h, rpeDim: e, gluDim: g } = config;
  const d1 = mixerChannels(config);
  const P = bodyPrefix(config);
  const w = new Map<string, Expected>();
  const add = (name: string, shape: readonly number[], optional = false): void => void w.set(name, { shape, optional });
  const linear = (name: string, out: number, inF: number): void => {
    add(`${name}.weight`, [out, inF]);
    add(`${name}.bias`, [out]);
  };
  const norm = (name: string): void => {
    add(`${name}.weight`, [d]);
    add(`${name}.bias`, [d]);
  };
  add(`${P}embed_tokens.weight`, [V, d]);
  if (config.embeddingLayernorm) norm(`${P}layernorm_embedding`);
  for (let i = 0; i < config.nLayers; i++) {
    const G = `${P}layers.${i}.self_attn.gtu.`;
    linear(`${G}u_proj`, d1, d);
    linear(`${G}v_proj`, d1, d);
    linear(`${G}o`, d, d1);
    if (config.gamma !== null) add(`${G}toep.gamma`, [h, 1, d1 / h]);
    linear(`${G}toep.rpe.pos_proj`, e, 1);
    for (let r = 0; r < config.rpeLayers; r++) linear(`${G}toep.rpe.layers.${r}.2`, e, e);
    linear(`${G}toep.rpe.out.2`, d1, e);
    const L = `${P}layers.${i}.glu.`;
    linear(`${L}l1`, g, d);
    linear(`${L}l2`, g, d);
    linear(`${L}l3`, d, g);
  }
  if (config.finalNorm === "layernorm") norm(`${P}layer_norm`);
  if (config.lmHead === "tied") {
    add("decoder.output_projection.weight", [V, d], true);
  } else {
    linear("encoder.lm_head.dense", d, d);
    norm("encoder.lm_head.layer_norm");
    add("encoder.lm_head.weight", [V, d], true);
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

function classificationHeadNames(file: SafetensorsFile | undefined): string[] {
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
export function checkWeights(config: TnnConfig, file: SafetensorsFile): void {
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

/** A {@link StateDictView} of a safetensors file, for config inference and checks. */
export function stateDictView(file: SafetensorsFile): StateDictView {
  return {
    names: () => file.names(),
    shape: (name) => file.get(name)?.shape,
    firstValue: (name) => {
      const t = file.get(name);
      if (!t || t.bytes.length < 2) return undefined;
      const dv = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
      switch (t.dtype) {
        case "F32":
          return t.bytes.length >= 4 ? dv.getFloat32(0, true) : undefined;
        case "BF16":
          return new Float32Array(new Uint32Array([dv.getUint16(0, true) << 16]).buffer)[0];
        case "F16":
          return halfToNumber(dv.getUint16(0, true));
        default:
          return undefined;
      }
    },
  };
}

function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const ex = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (ex === 0) return s * m * 2 ** -24;
  if (ex === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (ex - 15);
}

/** Copies raw little-endian bytes into a new tensor. */
function tensorOfBytes<T extends "float32" | "float16">(dtype: T, dims: readonly number[], bytes: Uint8Array): Tensor<T> {
  const t = Tensor.empty(dtype, dims);
  const view = t.data;
  new Uint8Array(view.buffer, view.byteOffset, view.byteLength).set(bytes);
  return t;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.byteOffset % 4 === 0 && b.byteOffset % 4 === 0 && a.length % 4 === 0) {
    const x = new Uint32Array(a.buffer, a.byteOffset, a.length / 4);
    const y = new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Moves checked tensors into wasm memory and remembers everything it made, so a failure can free it all. */
class Binder {
  readonly #made: { dispose(): void }[] = [];

  constructor(
    readonly file: SafetensorsFile,
    readonly dtype: "float32" | "float16",
  ) {}

  keep<T extends { dispose(): void }>(x: T): T {
    this.#made.push(x);
    return x;
  }

  entry(name: string): SafetensorsTensor {
    return this.file.get(name)!;
  }

  /** A float32 tensor of `name`, widened from F16/BF16 as stored. */
  f32(name: string, t = this.entry(name)): F32 {
    if (t.dtype === "F32") return this.keep(tensorOfBytes("float32", t.shape, t.bytes));
    const bits = tensorOfBytes("float16", t.shape, t.bytes);
    try {
      return this.keep(t.dtype === "F16" ? f16ToF32(bits) : bf16ToF32(bits));
    } finally {
      bits.dispose();
    }
  }

  /** A Linear/Embedding weight in the requested storage dtype. */
  matrix(name: string, t = this.entry(name)): Matrix {
    if (this.dtype === "float32") return this.f32(name, t);
    if (t.dtype === "F16") return this.keep(tensorOfBytes("float16", t.shape, t.bytes));
    const wide = this.f32(name, t);
    const half = this.keep(f32ToF16(wide));
    wide.dispose();
    return half;
  }

  /** A float32 copy in JS memory (small parameters: RPE, gamma). */
  host(name: string): Float32Array {
    const t = this.f32(name);
    try {
      return t.toArray();
    } finally {
      t.dispose();
    }
  }

  linear(name: string): Linear {
    return this.keep(new Linear(this.matrix(`${name}.weight`), this.f32(`${name}.bias`)));
  }

  layerNorm(name: string, eps = 1e-5): LayerNorm {
    return this.keep(new LayerNorm(this.f32(`${name}.weight`), this.f32(`${name}.bias`), eps));
  }

  /** The output projection tied to `embed`: shares its storage when the file holds the same bytes or nothing. */
  tied(name: string, embedName: string, embed: Embedding): Matrix {
    const t = this.file.get(name);
    const e = this.entry(embedName);
    if (!t || (t.dtype === e.dtype && sameBytes(t.bytes, e.bytes))) return this.keep(embed.weight.reshape(embed.weight.dims));
    return this.matrix(name, t);
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

function parseBindOptions(options: BindOptions): { dtype: "float32" | "float16"; cacheBytes: number | undefined } {
  const dtype = options.dtype ?? "float32";
  if (dtype !== "float32" && dtype !== "float16") throw new InvalidOptionError(`dtype must be "float32" or "float16", got ${String(dtype)}`);
  const cacheBytes = options.tnoCacheBytes;
  if (cacheBytes !== undefined && (!Number.isSafeInteger(cacheBytes) || cacheBytes < 0)) {
    throw new InvalidOptionError(`tnoCacheBytes must be a non-negative integer, got ${String(cacheBytes)}`);
  }
  return { dtype, cacheBytes };
}

function bind<T>(config: TnnConfig, file: SafetensorsFile, options: BindOptions, build: (b: Binder, cacheBytes: number | undefined) => T): T {
  const { dtype, cacheBytes } = parseBindOptions(options);
  checkWeights(config, file);
  const b = new Binder(file, dtype);
  try {
    return build(b, cacheBytes);
  } catch (e) {
    b.disposeAll();
    throw e;
  }
}

/**
 * The layers of a causal LM (`lmHead: "tied"`) from `file`. A missing `decoder.output_projection.weight` is the
 * embedding; one identical to it shares its storage.
 * @throws {WeightsMismatchError} missing, unexpected, non-float or mis-shaped tensors, all listed
 */
export function bindCausalLM(config: TnnConfig, file: SafetensorsFile, options: BindOptions = {}): CausalLMParts {
  return bind(config, file, options, (b, cacheBytes) => {
    const { embed, layers, finalNorm } = bindBody(b, config, cacheBytes);
    const head = b.keep(new Linear(b.tied("decoder.output_projection.weight", "decoder.embed_tokens.weight", embed)));
    return { embed, layers, finalNorm, head };
  });
}

/**
 * The layers of an encoder (`lmHead: "mlm"`) from `file`, with every `classification_heads.<name>` it holds.
 * A missing `encoder.lm_head.weight` is the embedding.
 * @throws {WeightsMismatchError} missing, unexpected, non-float or mis-shaped tensors, all listed
 */
export function bindEncoder(config: TnnConfig, file: SafetensorsFile, options: BindOptions = {}): EncoderParts {
  return bind(config, file, options, (b, cacheBytes) => {
    const body = bindBody(b, config, cacheBytes);
    const decoder = b.keep(new Linear(
      b.tied("encoder.lm_head.weight", "encoder.sentence_encoder.embed_tokens.weight", body.embed),
      b.f32("encoder.lm_head.bias"),
    ));
    const lmHead = b.keep(new MlmHead(b.linear("encoder.lm_head.dense"), b.layerNorm("encoder.lm_head.layer_norm"), decoder));
    const classificationHeads = classificationHeadNames(file).map((name) =>
      b.keep(new ClassificationHead(name, b.linear(`classification_heads.${name}.dense`), b.linear(`classification_heads.${name}.out_proj`))),
    );
    return { ...body, lmHead, classificationHeads };
  });
}
