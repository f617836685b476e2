/**
 * The model config: its type, validation and the snake_case JSON schema of config.json.
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
  /**
   * The GTU version: `"v2"` (the paper's, default), `"v1"` (v2 inside its own SimpleRMSNorm and residual) or `"v3"`
   * (one `in_proj` for both gates, no activation). v1 and v2 have the same parameters.
   */
  readonly gtu: GtuVersion;
  /** The GLU version: `"v1"` (`l1`, `l2`, `l3`, default) or `"v2"` (`l1`, `l2`: `W_2 (h ⊙ SiLU(h))`). */
  readonly glu: GluVersion;
  /** The official `use_norm`: a parameter-free SimpleRMSNorm inside the GTU, before its output projection. */
  readonly gtuNorm: boolean;
  /** The official architecture these weights were trained as (fairseq's `--arch`), when known. Informational. */
  readonly arch: string | null;
  /** fairseq's adaptive input embedding (`embed_tokens.embeddings.{i}.*`), or null for one table. */
  readonly adaptiveInput: AdaptiveInputConfig | null;
  /** fairseq's adaptive softmax (`adaptive_softmax.*`) in place of the output projection, or null. */
  readonly adaptiveSoftmax: AdaptiveSoftmaxConfig | null;
}

/** Bands of an adaptive input: each band's end but the last (fairseq's cutoff) and the width factor. */
export interface AdaptiveInputConfig {
  readonly cutoffs: readonly number[];
  readonly factor: number;
}

/** An adaptive softmax: bands as {@link AdaptiveInputConfig}, and what it shares with the adaptive input. */
export interface AdaptiveSoftmaxConfig extends AdaptiveInputConfig {
  /** fairseq's `tie_adaptive_weights`: the head's words and the tails' outputs are the input's tables. */
  readonly tieWeights: boolean;
  /** fairseq's `tie_adaptive_proj`: the tails' projections are the input's, transposed. */
  readonly tieProj: boolean;
}

/** GTU versions of the official code. */
export type GtuVersion = "v1" | "v2" | "v3";
/** GLU versions of the official code. */
export type GluVersion = "v1" | "v2";

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
  gtu?: GtuVersion;
  glu?: GluVersion;
  gtu_norm?: boolean;
  arch?: string | null;
  adaptive_input?: { cutoffs: number[]; factor: number } | null;
  adaptive_softmax?: { cutoffs: number[]; factor: number; tie_weights: boolean; tie_proj: boolean } | null;
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
  gtu: "gtu",
  glu: "glu",
  gtuNorm: "gtu_norm",
  arch: "arch",
  adaptiveInput: "adaptive_input",
  adaptiveSoftmax: "adaptive_softmax",
};

const KEYS = Object.keys(SNAKE) as (keyof TnnConfig)[];

/** The config.json (snake_case) name of a config field, for messages. */
export function jsonKey(k: keyof TnnConfig): string {
  return SNAKE[k];
}
/** Keys a config may leave out, with the paper's values (so older config.json files stay valid). */
const OPTIONAL: Partial<Record<keyof TnnConfig, unknown>> = {
  padIndex: 1, maxPositions: 512, gtu: "v2", glu: "v1", gtuNorm: false, arch: null, adaptiveInput: null, adaptiveSoftmax: null,
};

/** Checks an adaptive input/softmax field (camelCase or config.json's snake_case) and returns its camelCase form. */
function adaptive(v: unknown, key: string, softmax: boolean, problems: string[]): unknown {
  if (v === null || v === undefined) return v;
  if (typeof v !== "object" || Array.isArray(v)) {
    problems.push(`${key} must be null or an object`);
    return v;
  }
  const o = v as Record<string, unknown>;
  const cutoffs = o.cutoffs;
  const factor = o.factor;
  const tieWeights = o.tieWeights ?? o.tie_weights;
  const tieProj = o.tieProj ?? o.tie_proj;
  const allowed = softmax ? ["cutoffs", "factor", "tieWeights", "tie_weights", "tieProj", "tie_proj"] : ["cutoffs", "factor"];
  for (const k of Object.keys(o)) if (!allowed.includes(k)) problems.push(`${key} has an unknown key "${k}"`);
  if (!Array.isArray(cutoffs) || cutoffs.length === 0 || cutoffs.some((c, i) => !Number.isSafeInteger(c) || c < 1 || (i > 0 && c <= cutoffs[i - 1]))) {
    problems.push(`${key}.cutoffs must be increasing positive integers, got ${JSON.stringify(cutoffs)}`);
  }
  if (typeof factor !== "number" || !(factor >= 1) || !Number.isFinite(factor)) problems.push(`${key}.factor must be a number ≥ 1, got ${JSON.stringify(factor)}`);
  if (!softmax) return Object.freeze({ cutoffs: Object.freeze([...((cutoffs as number[]) ?? [])]), factor });
  for (const [k, b] of [["tieWeights", tieWeights], ["tieProj", tieProj]] as const) {
    if (typeof b !== "boolean") problems.push(`${key}.${k} must be true or false, got ${JSON.stringify(b)}`);
  }
  return Object.freeze({ cutoffs: Object.freeze([...((cutoffs as number[]) ?? [])]), factor, tieWeights, tieProj });
}

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
  for (const k of ["causal", "prenorm", "embeddingLayernorm", "gtuNorm"] as const) bool(k);
  if (out.gtu !== undefined && !["v1", "v2", "v3"].includes(out.gtu as string)) problems.push(`gtu must be "v1", "v2" or "v3", got ${JSON.stringify(out.gtu)}`);
  if (out.glu !== undefined && !["v1", "v2"].includes(out.glu as string)) problems.push(`glu must be "v1" or "v2", got ${JSON.stringify(out.glu)}`);
  if (out.arch !== undefined && out.arch !== null && typeof out.arch !== "string") problems.push(`arch must be a string or null, got ${JSON.stringify(out.arch)}`);
  out.adaptiveInput = adaptive(out.adaptiveInput, "adaptiveInput", false, problems);
  out.adaptiveSoftmax = adaptive(out.adaptiveSoftmax, "adaptiveSoftmax", true, problems);
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
    for (const a of [c.adaptiveInput, c.adaptiveSoftmax]) {
      if (a && a.cutoffs[a.cutoffs.length - 1]! >= c.vocabSize) problems.push(`adaptive cutoffs [${a.cutoffs.join(", ")}] must end below vocabSize ${c.vocabSize}`);
    }
    if ((c.adaptiveInput || c.adaptiveSoftmax) && c.lmHead !== "tied") problems.push("adaptive input and softmax exist only in causal LMs (lmHead \"tied\")");
    if (c.adaptiveSoftmax?.tieWeights && !c.adaptiveInput) problems.push("adaptiveSoftmax.tieWeights needs an adaptiveInput to tie to");
    if (c.adaptiveSoftmax?.tieWeights && c.adaptiveInput &&
        (c.adaptiveInput.factor !== c.adaptiveSoftmax.factor || c.adaptiveInput.cutoffs.join() !== c.adaptiveSoftmax.cutoffs.join())) {
      problems.push("a tied adaptive softmax needs the adaptive input's cutoffs and factor");
    }
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
  const s = c.adaptiveSoftmax;
  if (s) out.adaptive_softmax = { cutoffs: [...s.cutoffs], factor: s.factor, tie_weights: s.tieWeights, tie_proj: s.tieProj };
  if (c.adaptiveInput) out.adaptive_input = { cutoffs: [...c.adaptiveInput.cutoffs], factor: c.adaptiveInput.factor };
  return out as unknown as TnnConfigJSON;
}
