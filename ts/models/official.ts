/**
 * The official architectures: fairseq-evo's registered TNN archs, and the config a checkpoint's recorded
 * architecture and arguments (`fairseq_arch`, `fairseq_args`, written by tools/convert_fairseq.py into the
 * safetensors metadata and config.json) stand for. Arguments the library cannot honour are refused by name, never
 * dropped.
 * @module
 */
import { ConfigError } from "../core/errors.js";
import { type TnnConfig, validateConfig } from "./config.js";
import { inferFromWeights, type WeightNames } from "./infer-config.js";

/** config.json as the converter writes it: the official architecture and its arguments. */
export interface OfficialConfigJSON {
  readonly fairseq_arch: string;
  readonly fairseq_args: Readonly<Record<string, unknown>>;
}

/** Whether a config object is the converter's official form. */
export function isOfficialConfig(x: unknown): x is OfficialConfigJSON {
  return x !== null && typeof x === "object" && "fairseq_arch" in x;
}

/** fairseq's model of each registered TNN architecture. */
export const OFFICIAL_ARCHS: Readonly<Record<string, "tnn_lm" | "tnn_v2_lm" | "roberta_tnn" | "roberta_tnn_v2">> = Object.freeze({
  tnn_no_decay: "tnn_lm",
  tnn_decay_99: "tnn_lm",
  tnn_v2_no_decay: "tnn_v2_lm",
  tnn_v2_decay_99_post: "tnn_v2_lm",
  tnn_v2_decay_99_pre: "tnn_v2_lm",
  tnn_v2_decay_99_post_usenorm: "tnn_v2_lm",
  tnn_v2_decay_99_pre_usenorm: "tnn_v2_lm",
  tnn_v2_decay_99_pre_l6: "tnn_v2_lm",
  tnn_v2_decay_99_pre_gluv2: "tnn_v2_lm",
  tnn_v2_decay_99_pre_glu_v2_gtu_v3: "tnn_v2_lm",
  tnn_v2_decay_99_pre_glu_v2_gtu_v3_l6: "tnn_v2_lm",
  tnn_v2_decay_99_pre_l12: "tnn_v2_lm",
  tnn_v2_decay_99_pre_e768: "tnn_v2_lm",
  tnn_v2_decay_99_pre_ada: "tnn_v2_lm",
  tnn_v2_decay_99_pre_ada_128_base: "tnn_v2_lm",
  tnn_v2_decay_99_pre_ada_128_small: "tnn_v2_lm",
  tnn_v2_decay_99_pre_ada_128: "tnn_v2_lm",
  tnn_v2_decay_99_pre_l1: "tnn_v2_lm",
  roberta_tnn_decay_99: "roberta_tnn",
  roberta_tnn_v2_decay_99: "roberta_tnn_v2",
});

/** An argument the library implements only at one value: the value, and what it is, for the refusal message. */
const FIXED: readonly [arg: string, value: unknown, meaning: string][] = [
  ["act_fun", "silu", "the GTU activation"],
  ["glu_act", "silu", "the GLU activation"],
  ["norm_type", "simplermsnorm", "the in-layer norm"],
  ["rpe_act", "relu", "the RPE activation"],
  ["residual", false, "residual connections inside the RPE"],
  ["par_type", 1, "the RPE's input parametrisation"],
  ["normalize", false, "Toeplitz output normalisation"],
  ["resi_param", false, "a learned residual scale in the GTU"],
  ["use_multi_decay", false, "learned decays"],
  ["act_type", "none", "an activation on the Toeplitz coefficients"],
  ["fina_act", "None", "an activation after the GLU"],
  ["bias", true, "Linear layers without bias"],
  ["character_embeddings", false, "character embeddings"],
];

function refuse(arch: string, why: string): never {
  throw new ConfigError(`architecture "${arch}" is not supported: ${why}`);
}

/**
 * The config of weights recorded as fairseq architecture `arch` with arguments `args`; the vocabulary size (which
 * fairseq takes from the dictionary) comes from the weights' names and shapes.
 * @throws {ConfigError} an unknown architecture, or an argument value the library cannot run, named with its reason
 */
export function officialConfig(arch: string, args: Readonly<Record<string, unknown>>, weights: WeightNames): TnnConfig {
  if (typeof arch !== "string") throw new ConfigError(`fairseq_arch must be a string, got ${JSON.stringify(arch)}`);
  if (args === null || typeof args !== "object" || Array.isArray(args)) throw new ConfigError(`fairseq_args of "${arch}" must be an object`);
  const model = OFFICIAL_ARCHS[arch];
  if (!model) refuse(arch, `it is not one of the ${Object.keys(OFFICIAL_ARCHS).length} registered TNN architectures (${Object.keys(OFFICIAL_ARCHS).join(", ")})`);
  for (const [k, v, meaning] of FIXED) {
    if (args[k] !== undefined && args[k] !== v) refuse(arch, `${k} = ${JSON.stringify(args[k])} (${meaning}); only ${JSON.stringify(v)} is implemented`);
  }
  const num = (k: string, fallback?: number): number => {
    const v = args[k] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v)) throw new ConfigError(`"${arch}": fairseq_args.${k} must be a number, got ${JSON.stringify(args[k])}`);
    return v;
  };
  const bool = (k: string, fallback: boolean): boolean => {
    const v = args[k] ?? fallback;
    if (typeof v !== "boolean") throw new ConfigError(`"${arch}": fairseq_args.${k} must be true or false, got ${JSON.stringify(args[k])}`);
    return v;
  };
  const encoder = model === "roberta_tnn" || model === "roberta_tnn_v2";
  const side = encoder ? "encoder" : "decoder";
  const d = num(`${side}_embed_dim`);
  if (!encoder) {
    for (const k of ["decoder_input_dim", "decoder_output_dim"]) {
      if (args[k] !== undefined && args[k] !== d) refuse(arch, `${k} = ${JSON.stringify(args[k])} differs from decoder_embed_dim ${d} (projections between them are not implemented)`);
    }
  }
  const prenorm = bool(`${side}_normalize_before`, !encoder);
  const gluType = num("glu_type", 1);
  const gtuType = num("gtu_type", 2);
  if (gluType !== 1 && gluType !== 2) refuse(arch, `glu_type = ${gluType}; only 1 and 2 exist`);
  if (gtuType !== 2 && gtuType !== 3) refuse(arch, `gtu_type = ${gtuType}; only 2 and 3 exist`);
  const gluDim = num("glu_dim", -1);
  const fromWeights = inferFromWeights(weights);
  if (fromWeights.vocabSize === undefined) refuse(arch, `the weights have no ${encoder ? "encoder.sentence_encoder" : "decoder"}.embed_tokens tables to size the vocabulary`);
  if (encoder && args.activation_fn !== undefined && args.activation_fn !== "gelu") refuse(arch, `activation_fn = ${JSON.stringify(args.activation_fn)} in the MLM head; only "gelu" is implemented`);
  if (encoder && args.pooler_activation_fn !== undefined && args.pooler_activation_fn !== "tanh") refuse(arch, `pooler_activation_fn = ${JSON.stringify(args.pooler_activation_fn)}; only "tanh" is implemented`);
  const finalNorm = encoder ? prenorm : prenorm && !bool("no_decoder_final_norm", false);
  const cutoffs = (k: string): number[] | undefined => {
    const v = args[k];
    if (v === undefined || v === null) return undefined;
    const list = typeof v === "string" ? v.split(",").map((x) => Number(x.trim())) : v;
    if (!Array.isArray(list) || list.some((x) => !Number.isSafeInteger(x))) throw new ConfigError(`"${arch}": fairseq_args.${k} must be a list of integers, got ${JSON.stringify(v)}`);
    return list as number[];
  };
  const inputCutoffs = !encoder && bool("adaptive_input", false) ? cutoffs("adaptive_input_cutoff") : undefined;
  if (!encoder && bool("adaptive_input", false) && !inputCutoffs) refuse(arch, "adaptive_input is on but adaptive_input_cutoff is missing");
  const softmaxCutoffs = encoder ? undefined : cutoffs("adaptive_softmax_cutoff");
  return validateConfig({
    dModel: d,
    nLayers: num(`${side}_layers`),
    expandRatio: num("expand_ratio", 3),
    nHeads: num(`${side}_attention_heads`, 1),
    rpeDim: num("rpe_embedding", 64),
    rpeLayers: num("rpe_layers", 6),
    gamma: bool("use_decay", false) ? num("gamma", 0.99) : null,
    causal: bool("causal", !encoder),
    prenorm,
    gluDim: gluDim === -1 ? d : gluDim,
    vocabSize: fromWeights.vocabSize,
    padIndex: 1,
    embedScale: bool("no_scale_embedding", encoder) ? 1 : Math.sqrt(d),
    finalNorm: finalNorm ? "layernorm" : null,
    embeddingLayernorm: bool("layernorm_embedding", encoder),
    lmHead: encoder ? "mlm" : "tied",
    maxPositions: num(encoder ? "max_positions" : "tokens_per_sample", 512),
    gtu: model === "tnn_lm" || model === "roberta_tnn" ? "v1" : gtuType === 3 ? "v3" : "v2",
    glu: gluType === 2 ? "v2" : "v1",
    gtuNorm: bool("use_norm", false),
    arch,
    adaptiveInput: inputCutoffs ? { cutoffs: inputCutoffs, factor: num("adaptive_input_factor", 4) } : null,
    adaptiveSoftmax: softmaxCutoffs
      ? { cutoffs: softmaxCutoffs, factor: num("adaptive_softmax_factor", 4), tieWeights: bool("tie_adaptive_weights", false), tieProj: bool("tie_adaptive_proj", false) }
      : null,
  });
}
