/**
 * Random TNN weights under the official fairseq names, from a seeded generator, plus the float64 reference's view of
 * them. Built from the official code's parameter names, independently of ts/models.
 */
import { type Gtu64, type Glu64, type Rpe64, block64, erf, layerNorm64, linear64 } from "./reference64.js";
import { type RawTensor } from "./safetensors-writer.js";

/** The config.json schema (snake_case), as tools/README.md documents it. */
export interface SnakeConfig {
  d_model: number;
  n_layers: number;
  expand_ratio: number;
  n_heads: number;
  rpe_dim: number;
  rpe_layers: number;
  gamma: number | null;
  causal: boolean;
  prenorm: boolean;
  glu_dim: number;
  vocab_size: number;
  pad_index: number;
  embed_scale: number;
  final_norm: "layernorm" | null;
  embedding_layernorm: boolean;
  lm_head: "tied" | "mlm";
  max_positions: number;
}

export function lmConfig(over: Partial<SnakeConfig> = {}): SnakeConfig {
  const c: SnakeConfig = {
    d_model: 16, n_layers: 2, expand_ratio: 3, n_heads: 1, rpe_dim: 8, rpe_layers: 2, gamma: 0.99, causal: true,
    prenorm: true, glu_dim: 16, vocab_size: 40, pad_index: 1, embed_scale: 4, final_norm: "layernorm",
    embedding_layernorm: false, lm_head: "tied", max_positions: 512, ...over,
  };
  if (over.embed_scale === undefined) c.embed_scale = Math.sqrt(c.d_model);
  return c;
}

export function encoderConfig(over: Partial<SnakeConfig> = {}): SnakeConfig {
  return lmConfig({ causal: false, prenorm: false, final_norm: null, embedding_layernorm: true, lm_head: "mlm", embed_scale: 1, ...over });
}

/** mulberry32: a small seeded PRNG giving floats in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const prefixOf = (c: SnakeConfig): string => (c.lm_head === "tied" ? "decoder." : "encoder.sentence_encoder.");

/** Random weights under the official names. `rpeOutGain` shrinks the RPE output so TNO sums stay of order 1. */
export function randomStateDict(
  c: SnakeConfig,
  seed: number,
  opts: { omitOutputProjection?: boolean; rpeOutGain?: number; gammaRange?: [number, number]; classificationHeads?: Record<string, number> } = {},
): Map<string, RawTensor> {
  const r = rng(seed);
  const W = new Map<string, RawTensor>();
  const uniform = (len: number, bound: number): Float32Array => Float32Array.from({ length: len }, () => (2 * r() - 1) * bound);
  const lin = (name: string, out: number, inF: number, gain = 1): void => {
    const b = gain / Math.sqrt(inF);
    W.set(`${name}.weight`, { shape: [out, inF], data: uniform(out * inF, b) });
    W.set(`${name}.bias`, { shape: [out], data: uniform(out, b) });
  };
  const norm = (name: string, d: number): void => {
    W.set(`${name}.weight`, { shape: [d], data: Float32Array.from({ length: d }, () => 1 + 0.4 * (r() - 0.5)) });
    W.set(`${name}.bias`, { shape: [d], data: uniform(d, 0.1) });
  };
  const d = c.d_model;
  const d1 = d * c.expand_ratio;
  const P = prefixOf(c);
  const emb = uniform(c.vocab_size * d, c.lm_head === "tied" ? 2 / Math.sqrt(d) : 1);
  W.set(`${P}embed_tokens.weight`, { shape: [c.vocab_size, d], data: emb });
  if (c.embedding_layernorm) norm(`${P}layernorm_embedding`, d);
  const [g0, g1] = opts.gammaRange ?? [0.9, 0.99];
  for (let i = 0; i < c.n_layers; i++) {
    const G = `${P}layers.${i}.self_attn.gtu.`;
    lin(`${G}u_proj`, d1, d);
    lin(`${G}v_proj`, d1, d);
    lin(`${G}o`, d, d1);
    if (c.gamma !== null) {
      W.set(`${G}toep.gamma`, { shape: [c.n_heads, 1, d1 / c.n_heads], data: Float32Array.from({ length: d1 }, () => g0 + (g1 - g0) * r()) });
    }
    lin(`${G}toep.rpe.pos_proj`, c.rpe_dim, 1);
    for (let k = 0; k < c.rpe_layers; k++) lin(`${G}toep.rpe.layers.${k}.2`, c.rpe_dim, c.rpe_dim);
    lin(`${G}toep.rpe.out.2`, d1, c.rpe_dim, opts.rpeOutGain ?? 0.3);
    const L = `${P}layers.${i}.glu.`;
    lin(`${L}l1`, c.glu_dim, d);
    lin(`${L}l2`, c.glu_dim, d);
    lin(`${L}l3`, d, c.glu_dim);
  }
  if (c.final_norm === "layernorm") norm(`${P}layer_norm`, d);
  if (c.lm_head === "tied") {
    if (!opts.omitOutputProjection) W.set("decoder.output_projection.weight", { shape: [c.vocab_size, d], data: emb.slice() });
    W.set("decoder.version", { shape: [1], data: new Float32Array([3]) });
  } else {
    lin("encoder.lm_head.dense", d, d);
    norm("encoder.lm_head.layer_norm", d);
    W.set("encoder.lm_head.weight", { shape: [c.vocab_size, d], data: emb.slice() });
    W.set("encoder.lm_head.bias", { shape: [c.vocab_size], data: uniform(c.vocab_size, 0.1) });
    for (const [name, classes] of Object.entries(opts.classificationHeads ?? {})) {
      lin(`classification_heads.${name}.dense`, d, d);
      lin(`classification_heads.${name}.out_proj`, classes, d);
    }
  }
  return W;
}

const get = (W: Map<string, RawTensor>, name: string): Float32Array => {
  const t = W.get(name);
  if (!t) throw new Error(`reference: no tensor ${name}`);
  return t.data as Float32Array;
};

const wb = (W: Map<string, RawTensor>, name: string) => ({ w: get(W, `${name}.weight`), b: get(W, `${name}.bias`) });

/** The reference's parameters for layer i. */
export function layerParams64(W: Map<string, RawTensor>, c: SnakeConfig, i: number): { gtu: Gtu64; glu: Glu64; prenorm: boolean } {
  const G = `${prefixOf(c)}layers.${i}.self_attn.gtu.`;
  const R = `${G}toep.rpe.`;
  const rpe: Rpe64 = {
    posWeight: get(W, `${R}pos_proj.weight`),
    posBias: get(W, `${R}pos_proj.bias`),
    layers: Array.from({ length: c.rpe_layers }, (_, k) => ({ weight: get(W, `${R}layers.${k}.2.weight`), bias: get(W, `${R}layers.${k}.2.bias`) })),
    outWeight: get(W, `${R}out.2.weight`),
    outBias: get(W, `${R}out.2.bias`),
  };
  const L = `${prefixOf(c)}layers.${i}.glu.`;
  return {
    gtu: { u: wb(W, `${G}u_proj`), v: wb(W, `${G}v_proj`), o: wb(W, `${G}o`), rpe, gamma: c.gamma === null ? undefined : get(W, `${G}toep.gamma`), causal: c.causal },
    glu: { l1: wb(W, `${L}l1`), l2: wb(W, `${L}l2`), l3: wb(W, `${L}l3`) },
    prenorm: c.prenorm,
  };
}

/** Float64 logits `[n, V]` of one sequence, by the architecture page. */
export function logits64(W: Map<string, RawTensor>, c: SnakeConfig, ids: readonly number[]): Float64Array {
  const d = c.d_model;
  const n = ids.length;
  const V = c.vocab_size;
  const P = prefixOf(c);
  const E = get(W, `${P}embed_tokens.weight`);
  let x: Float64Array = new Float64Array(n * d);
  ids.forEach((id, i) => {
    for (let j = 0; j < d; j++) x[i * d + j] = E[id * d + j]! * c.embed_scale;
  });
  if (c.embedding_layernorm) x = layerNorm64(x, n, d, get(W, `${P}layernorm_embedding.weight`), get(W, `${P}layernorm_embedding.bias`));
  // fairseq's TransformerEncoder zeroes padded positions once, right after the embedding (and its LayerNorm).
  if (c.lm_head === "mlm") ids.forEach((id, i) => id === c.pad_index && x.fill(0, i * d, (i + 1) * d));
  for (let i = 0; i < c.n_layers; i++) x = block64(layerParams64(W, c, i), x, n, d);
  if (c.final_norm === "layernorm") x = layerNorm64(x, n, d, get(W, `${P}layer_norm.weight`), get(W, `${P}layer_norm.bias`));
  if (c.lm_head === "tied") return linear64(x, n, d, W.get("decoder.output_projection.weight")?.data ?? E, undefined, V);
  let z = linear64(x, n, d, get(W, "encoder.lm_head.dense.weight"), get(W, "encoder.lm_head.dense.bias"), d);
  z = z.map((v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
  z = layerNorm64(z, n, d, get(W, "encoder.lm_head.layer_norm.weight"), get(W, "encoder.lm_head.layer_norm.bias"));
  return linear64(z, n, d, W.get("encoder.lm_head.weight")?.data ?? E, get(W, "encoder.lm_head.bias"), V);
}

/** Float64 class logits of one sequence for head `name`: mean of the positions → dense → tanh → out_proj. */
export function classify64(W: Map<string, RawTensor>, c: SnakeConfig, ids: readonly number[], name: string): Float64Array {
  const d = c.d_model;
  const P = prefixOf(c);
  const E = get(W, `${P}embed_tokens.weight`);
  const n = ids.length;
  let x: Float64Array = new Float64Array(n * d);
  ids.forEach((id, i) => {
    for (let j = 0; j < d; j++) x[i * d + j] = E[id * d + j]! * c.embed_scale;
  });
  if (c.embedding_layernorm) x = layerNorm64(x, n, d, get(W, `${P}layernorm_embedding.weight`), get(W, `${P}layernorm_embedding.bias`));
  // fairseq's TransformerEncoder zeroes padded positions once, right after the embedding (and its LayerNorm).
  if (c.lm_head === "mlm") ids.forEach((id, i) => id === c.pad_index && x.fill(0, i * d, (i + 1) * d));
  for (let i = 0; i < c.n_layers; i++) x = block64(layerParams64(W, c, i), x, n, d);
  if (c.final_norm === "layernorm") x = layerNorm64(x, n, d, get(W, `${P}layer_norm.weight`), get(W, `${P}layer_norm.bias`));
  // The official TNN RoBERTa head pools by the mean of every position.
  const first = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) first[j]! += x[i * d + j]! / n;
  const H = `classification_heads.${name}.`;
  const dense = W.get(`${H}dense.weight`)!;
  const h = linear64(first, 1, d, get(W, `${H}dense.weight`), get(W, `${H}dense.bias`), dense.shape[0]!).map(Math.tanh);
  const out = W.get(`${H}out_proj.weight`)!;
  return linear64(h, 1, dense.shape[0]!, out.data as Float32Array, get(W, `${H}out_proj.bias`), out.shape[0]!);
}
