/**
 * The model config: its type, validation, the snake_case JSON schema of config.json, and inference from the
 * names and shapes of an official fairseq state dict.
 * @module
 */
import { ConfigError } from "../core/errors.js";

/** Everything that fixes a TNN's architecture. Weights fill in the rest (including the per-channel λ). */
export interface TnnConfig {
  /** Model width d. */
  readonly dModel: number;
  /** Number of TNN blocks. */
  readonly nLayers: number;
  /** d1 / d: the GTU's width over the model's. */
  readonly expandRatio: number;
  /** Heads h of the TNO (they only shape gamma; the mixing is depthwise). */
  readonly nHeads: number;
  /** Hidden width e of the RPE MLP. */
  readonly rpeDim: number;
  /** Hidden Linear(e, e) layers R of the RPE MLP. */
  readonly rpeLayers: number;
  /** Nominal decay λ (the weights' `toep.gamma` holds the per-channel values), or null for no decay. */
  readonly gamma: number | null;
  /** Causal (decoder) or bidirectional (encoder) Toeplitz mixing. */
  readonly causal: boolean;
  /** Pre-norm blocks (`x + f(SRMS(x))`) or post-norm (`SRMS(x + f(x))`). */
  readonly prenorm: boolean;
  /** Hidden width of the GLU. */
  readonly gluDim: number;
  /** Vocabulary size V. */
  readonly vocabSize: number;
  /** Padding token id, or null for a vocabulary without one. Informational: the official code masks nothing. */
  readonly padIndex: number | null;
  /** Factor on the token embedding: √d for the causal LM, 1 for the encoder. */
  readonly embedScale: number;
  /** Norm after the last block: affine LayerNorm, or none. */
  readonly finalNorm: "layernorm" | null;
  /** Affine LayerNorm right after the embedding (the encoder's `layernorm_embedding`). */
  readonly embeddingLayernorm: boolean;
  /** Output head: `tied` (logits = h Eᵀ, the causal LM under `decoder.*`) or `mlm` (RoBERTa's LM head, the encoder). */
  readonly lmHead: "tied" | "mlm";
  /** Training length. Informational: the TNN runs on any length. */
  readonly maxPositions: number;
}

/** A config as config.json writes it (snake_case). */
export interface TnnConfigJSON {
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
  pad_index?: number | null;
  embed_scale: number;
  final_norm: "layernorm" | null;
  embedding_layernorm: boolean;
  lm_head: "tied" | "mlm";
  max_positions?: number;
}

const SNAKE: Readonly<Record<keyof TnnConfig, keyof TnnConfigJSON>> = {
  dModel: "d_model",
  nLayers: "n_layers",
  expandRatio: "expand_ratio",
  nHeads: "n_heads",
  rpeDim: "rpe_dim",
  rpeLayers: "rpe_layers",
  gamma: "gamma",
  causal: "causal",
  prenorm: "prenorm",
  gluDim: "glu_dim",
  vocabSize: "vocab_size",
  padIndex: "pad_index",
  embedScale: "embed_scale",
  finalNorm: "final_norm",
  embeddingLayernorm: "embedding_layernorm",
  lmHead: "lm_head",
  maxPositions: "max_positions",
};

const KEYS = Object.keys(SNAKE) as (keyof TnnConfig)[];
const OPTIONAL: Partial<Record<keyof TnnConfig, unknown>> = { padIndex: 1, maxPositions: 512 };

/** The GTU width d1 = d · expand ratio. */
export function mixerChannels(c: TnnConfig): number {
  return c.dModel * c.expandRatio;
}

/** Prefix of the body's parameters under the official names. */
export function bodyPrefix(c: Pick<TnnConfig, "lmHead">): string {
  return c.lmHead === "tied" ? "decoder." : "encoder.sentence_encoder.";
}

/**
 * Checks every field of a camelCase config and returns a frozen copy.
 * @throws {ConfigError} a field is missing, unknown, of the wrong type or out of range
 */
export function validateConfig(input: unknown): TnnConfig {
  if (input === null || typeof input !== "object" || Array.isArray(input)) throw new ConfigError("config must be an object");
  const src = input as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(src)) if (!(k in SNAKE)) problems.push(`unknown key "${k}"`);
  const out: Record<string, unknown> = {};
  for (const k of KEYS) {
    const v = src[k] === undefined ? OPTIONAL[k] : src[k];
    if (v === undefined) problems.push(`missing key "${k}"`);
    out[k] = v;
  }
  const posInt = (k: keyof TnnConfig, min = 1): void => {
    const v = out[k];
    if (v !== undefined && (typeof v !== "number" || !Number.isSafeInteger(v) || v < min)) {
      problems.push(`${k} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
    }
  };
  const bool = (k: keyof TnnConfig): void => {
    if (out[k] !== undefined && typeof out[k] !== "boolean") problems.push(`${k} must be true or false, got ${JSON.stringify(out[k])}`);
  };
  for (const k of ["dModel", "nLayers", "nHeads", "rpeDim", "gluDim", "vocabSize", "maxPositions"] as const) posInt(k);
  posInt("rpeLayers", 0);
  if (out.padIndex !== null) posInt("padIndex", 0);
  for (const k of ["causal", "prenorm", "embeddingLayernorm"] as const) bool(k);
  const er = out.expandRatio;
  if (er !== undefined && (typeof er !== "number" || !Number.isFinite(er) || er <= 0)) problems.push(`expandRatio must be a positive number, got ${JSON.stringify(er)}`);
  const g = out.gamma;
  if (g !== undefined && g !== null && (typeof g !== "number" || !(g > 0 && g <= 1))) problems.push(`gamma must be null or a number in (0, 1], got ${JSON.stringify(g)}`);
  const es = out.embedScale;
  if (es !== undefined && (typeof es !== "number" || !Number.isFinite(es))) problems.push(`embedScale must be a finite number, got ${JSON.stringify(es)}`);
  if (out.finalNorm !== undefined && out.finalNorm !== null && out.finalNorm !== "layernorm") {
    problems.push(`finalNorm must be "layernorm" or null, got ${JSON.stringify(out.finalNorm)}`);
  }
  if (out.lmHead !== undefined && out.lmHead !== "tied" && out.lmHead !== "mlm") problems.push(`lmHead must be "tied" or "mlm", got ${JSON.stringify(out.lmHead)}`);
  if (problems.length === 0) {
    const c = out as unknown as TnnConfig;
    const d1 = c.dModel * c.expandRatio;
    if (!Number.isSafeInteger(d1)) problems.push(`dModel · expandRatio = ${d1} is not an integer`);
    else if (d1 % c.nHeads !== 0) problems.push(`nHeads ${c.nHeads} does not divide d1 = ${d1}`);
    if (c.padIndex !== null && c.padIndex >= c.vocabSize) problems.push(`padIndex ${c.padIndex} is outside the vocabulary [0, ${c.vocabSize})`);
  }
  if (problems.length) throw new ConfigError(`invalid config: ${problems.join("; ")}`);
  return Object.freeze(out as unknown as TnnConfig);
}

/**
 * Reads a config given as config.json's snake_case object or JSON text, or as a camelCase {@link TnnConfig}.
 * @throws {ConfigError} invalid JSON, or any problem {@link validateConfig} finds
 */
export function configFromJSON(json: string | object): TnnConfig {
  let obj: unknown = json;
  if (typeof json === "string") {
    try {
      obj = JSON.parse(json);
    } catch (e) {
      throw new ConfigError(`config is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) throw new ConfigError("config must be a JSON object");
  const src = obj as Record<string, unknown>;
  if ("dModel" in src) return validateConfig(src);
  const byJson = new Map(KEYS.map((k) => [SNAKE[k] as string, k]));
  const camel: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [k, v] of Object.entries(src)) {
    const ck = byJson.get(k);
    if (ck) camel[ck] = v;
    else unknown.push(k);
  }
  if (unknown.length) throw new ConfigError(`invalid config: unknown key(s) ${unknown.map((k) => `"${k}"`).join(", ")}`);
  return validateConfig(camel);
}

/** The config as config.json's snake_case object. */
export function configToJSON(c: TnnConfig): TnnConfigJSON {
  const out: Record<string, unknown> = {};
  for (const k of KEYS) out[SNAKE[k]] = c[k];
  return out as unknown as TnnConfigJSON;
}

/** What {@link inferConfig} needs of a weights file: names, shapes and (for gamma) values. */
export interface StateDictView {
  names(): Iterable<string>;
  shape(name: string): readonly number[] | undefined;
  /** The first value of a float tensor, for the nominal gamma. */
  firstValue(name: string): number | undefined;
}

/**
 * The fields an official fairseq state dict's names and shapes determine, as far as they are present. Fields the
 * weights cannot tell are absent here.
 */
export function inferFromWeights(w: StateDictView): Partial<TnnConfig> {
  const names = [...w.names()];
  const has = (n: string): boolean => w.shape(n) !== undefined;
  let lmHead: "tied" | "mlm";
  if (has("decoder.embed_tokens.weight")) lmHead = "tied";
  else if (has("encoder.sentence_encoder.embed_tokens.weight")) lmHead = "mlm";
  else return {};
  const P = bodyPrefix({ lmHead });
  const out: { -readonly [K in keyof TnnConfig]?: TnnConfig[K] } = { lmHead };
  const emb = w.shape(`${P}embed_tokens.weight`)!;
  if (emb.length === 2) [out.vocabSize, out.dModel] = emb as [number, number];
  const layerIds = new Set<number>();
  const rpeIds = new Set<number>();
  const layerRe = new RegExp(`^${P.replace(/\./g, "\\.")}layers\\.(\\d+)\\.`);
  for (const n of names) {
    const m = layerRe.exec(n);
    if (!m) continue;
    layerIds.add(Number(m[1]));
    const r = /^self_attn\.gtu\.toep\.rpe\.layers\.(\d+)\./.exec(n.slice(m[0].length));
    if (m[1] === "0" && r) rpeIds.add(Number(r[1]));
  }
  out.nLayers = layerIds.size;
  const L0 = `${P}layers.0.`;
  const v = w.shape(`${L0}self_attn.gtu.v_proj.weight`);
  if (v?.length === 2 && out.dModel) out.expandRatio = v[0]! / out.dModel;
  const pos = w.shape(`${L0}self_attn.gtu.toep.rpe.pos_proj.weight`);
  if (pos?.length === 2) out.rpeDim = pos[0]!;
  if (pos) out.rpeLayers = rpeIds.size;
  const g = w.shape(`${L0}self_attn.gtu.toep.gamma`);
  if (g) {
    out.nHeads = g.length === 3 ? g[0]! : 1;
    const first = w.firstValue(`${L0}self_attn.gtu.toep.gamma`);
    out.gamma = first !== undefined && first > 0 && first <= 1 ? Math.fround(first) : 0.99;
  } else if (v) {
    // Without gamma, heads leave no trace in the weights.
    out.gamma = null;
  }
  const l1 = w.shape(`${L0}glu.l1.weight`);
  if (l1?.length === 2) out.gluDim = l1[0]!;
  out.finalNorm = has(`${P}layer_norm.weight`) ? "layernorm" : null;
  out.embeddingLayernorm = has(`${P}layernorm_embedding.weight`);
  return out;
}

/**
 * The config of an official fairseq state dict. What the weights cannot tell follows the official archs:
 * `decoder.*` is the causal pre-norm LM with √d embedding scale and a tied head; `encoder.sentence_encoder.*` is the
 * bidirectional post-norm encoder with embedding scale 1 and the MLM head.
 * @throws {ConfigError} the names are not an official TNN state dict's
 */
export function inferConfig(w: StateDictView): TnnConfig {
  const p = inferFromWeights(w);
  if (!p.lmHead) {
    throw new ConfigError(
      "cannot infer a config: the weights have neither decoder.embed_tokens.weight (causal LM) nor " +
        "encoder.sentence_encoder.embed_tokens.weight (encoder); pass options.config",
    );
  }
  const need = ["dModel", "vocabSize", "nLayers", "expandRatio", "rpeDim", "rpeLayers", "gluDim"] as const;
  const missing = need.filter((k) => p[k] === undefined || (k !== "rpeLayers" && p[k] === 0));
  if (missing.length) throw new ConfigError(`cannot infer ${missing.join(", ")} from the weights' names and shapes; pass options.config`);
  const decoder = p.lmHead === "tied";
  return validateConfig({
    ...p,
    nHeads: p.nHeads ?? 1,
    gamma: p.gamma === undefined ? null : p.gamma,
    causal: decoder,
    prenorm: decoder,
    embedScale: decoder ? Math.sqrt(p.dModel!) : 1,
    padIndex: 1,
    maxPositions: 512,
  });
}

/**
 * Lists where `config` contradicts what the weights' names and shapes say.
 * @throws {ConfigError} one or more contradictions, all listed
 */
export function checkConfigAgainstWeights(config: TnnConfig, w: StateDictView): void {
  const p = inferFromWeights(w);
  const problems: string[] = [];
  if (!p.lmHead) {
    problems.push(`lm_head "${config.lmHead}" needs ${bodyPrefix(config)}embed_tokens.weight, which the weights lack`);
  } else if (p.lmHead !== config.lmHead) {
    problems.push(`lm_head is "${config.lmHead}" but the weights are a${p.lmHead === "tied" ? " causal LM (decoder.*)" : "n encoder (encoder.sentence_encoder.*)"}`);
  } else {
    const fields = ["dModel", "vocabSize", "nLayers", "expandRatio", "nHeads", "rpeDim", "rpeLayers", "gluDim", "finalNorm", "embeddingLayernorm"] as const;
    for (const k of fields) {
      if (p[k] !== undefined && p[k] !== config[k]) problems.push(`${SNAKE[k]} is ${JSON.stringify(config[k])} but the weights say ${JSON.stringify(p[k])}`);
    }
    if (p.gamma !== undefined && (p.gamma === null) !== (config.gamma === null)) {
      problems.push(config.gamma === null ? "gamma is null (no decay) but the weights have toep.gamma" : `gamma is ${config.gamma} but the weights have no toep.gamma (no decay)`);
    }
  }
  if (problems.length) throw new ConfigError(`the config contradicts the weights: ${problems.join("; ")}`);
}
