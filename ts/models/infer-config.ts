/**
 * A config from what a weights file's names and shapes reveal about an official fairseq TNN, for files that carry
 * no config. Settings the weights cannot show take the paper's configuration (see `inferConfig`).
 * @module
 */
import { ConfigError } from "../core/errors.js";
import { type TnnConfig, bodyPrefix, jsonKey, validateConfig } from "./config.js";

/** What inference reads of a file: tensor names and shapes. */
export interface WeightNames {
  names(): Iterable<string>;
  get(name: string): { readonly shape: readonly number[] } | undefined;
}

/**
 * The fields an official fairseq state dict's names and shapes determine, as far as they are present. Fields the
 * weights cannot tell are absent here.
 */
export function inferFromWeights(w: WeightNames): Partial<TnnConfig> {
  const shape = (n: string): readonly number[] | undefined => w.get(n)?.shape;
  const has = (n: string): boolean => w.get(n) !== undefined;
  let lmHead: "tied" | "mlm";
  const adaptive = has("decoder.embed_tokens.embeddings.0.0.weight");
  if (has("decoder.embed_tokens.weight") || adaptive) lmHead = "tied";
  else if (has("encoder.sentence_encoder.embed_tokens.weight")) lmHead = "mlm";
  else return {};
  const P = bodyPrefix({ lmHead });
  const out: { -readonly [K in keyof TnnConfig]?: TnnConfig[K] } = { lmHead };
  const emb = shape(`${P}embed_tokens.weight`);
  if (emb?.length === 2) [out.vocabSize, out.dModel] = emb as [number, number];
  if (adaptive) Object.assign(out, inferAdaptive(w));
  const layerIds = new Set<number>();
  const rpeIds = new Set<number>();
  const layerRe = new RegExp(`^${P.replace(/\./g, "\\.")}layers\\.(\\d+)\\.`);
  for (const n of w.names()) {
    const m = layerRe.exec(n);
    if (!m) continue;
    layerIds.add(Number(m[1]));
    const r = /^self_attn\.gtu\.toep\.rpe\.layers\.(\d+)\./.exec(n.slice(m[0].length));
    if (m[1] === "0" && r) rpeIds.add(Number(r[1]));
  }
  out.nLayers = layerIds.size;
  const G = `${P}layers.0.self_attn.gtu.`;
  // GTU v3 has one input projection; v1 and v2 have the same two (v1 cannot be told from v2 by its weights).
  const inProj = shape(`${G}in_proj.weight`);
  const vProj = shape(`${G}v_proj.weight`);
  out.gtu = inProj ? "v3" : "v2";
  const d1 = (inProj ?? vProj)?.[0];
  if (d1 !== undefined && out.dModel) out.expandRatio = d1 / out.dModel;
  const pos = shape(`${G}toep.rpe.pos_proj.weight`);
  if (pos?.length === 2) out.rpeDim = pos[0]!;
  if (pos) out.rpeLayers = rpeIds.size;
  const g = shape(`${G}toep.gamma`);
  if (g) {
    out.nHeads = g.length === 3 ? g[0]! : 1;
    // The nominal λ (the per-channel values in the tensors are what the model uses): the official 0.99.
    out.gamma = 0.99;
  } else if (d1 !== undefined) {
    out.gamma = null; // without gamma, heads leave no trace in the weights (and change nothing)
  }
  const L = `${P}layers.0.glu.`;
  const l1 = shape(`${L}l1.weight`);
  if (l1?.length === 2) out.gluDim = l1[0]!;
  // GLU v2 has l1 and l2 only.
  if (l1) out.glu = has(`${L}l3.weight`) ? "v1" : "v2";
  out.finalNorm = has(`${P}layer_norm.weight`) ? "layernorm" : null;
  out.embeddingLayernorm = has(`${P}layernorm_embedding.weight`);
  // fairseq gives a pre-norm stack a final LayerNorm and a post-norm one none, in the decoder and the encoder alike;
  // the adaptive architectures are the exception, pre-norm without a final norm (`no_decoder_final_norm`).
  out.prenorm = out.finalNorm !== null || adaptive;
  return out;
}

/**
 * The adaptive input (bands `embed_tokens.embeddings.{i}.{0,1}`: sizes, widths, hence cutoffs and factor) and the
 * adaptive softmax: tied when the head has `class_proj`, with tied projections when `tail.{i}.0.weight` has the
 * input projection's shape `[d, w]` rather than a Linear's `[w, d]`.
 */
function inferAdaptive(w: WeightNames): Partial<TnnConfig> {
  const band = (i: number) => ({ table: w.get(`decoder.embed_tokens.embeddings.${i}.0.weight`)?.shape, proj: w.get(`decoder.embed_tokens.embeddings.${i}.1.weight`)?.shape });
  const sizes: number[] = [];
  const widths: number[] = [];
  for (let i = 0; band(i).table?.length === 2; i++) {
    sizes.push(band(i).table![0]!);
    widths.push(band(i).table![1]!);
  }
  const d = band(0).proj?.[0];
  const ends = sizes.map((_, i) => sizes.slice(0, i + 1).reduce((a, b) => a + b, 0));
  const cutoffs = ends.slice(0, -1);
  const factor = widths.length > 1 ? widths[0]! / widths[1]! : 4;
  const out: { -readonly [K in keyof TnnConfig]?: TnnConfig[K] } = { vocabSize: ends[ends.length - 1], dModel: d };
  if (cutoffs.length > 0) out.adaptiveInput = { cutoffs, factor };
  if (w.get("decoder.adaptive_softmax.head.class_proj.weight") || w.get("decoder.adaptive_softmax.head.weight")) {
    const tieWeights = w.get("decoder.adaptive_softmax.head.class_proj.weight") !== undefined;
    const proj = w.get("decoder.adaptive_softmax.tail.0.0.weight")?.shape;
    const tieProj = tieWeights && proj?.[0] === d && proj?.[1] !== d;
    out.adaptiveSoftmax = { cutoffs, factor, tieWeights, tieProj };
  }
  return out;
}

/**
 * The config of an official fairseq state dict without a recorded architecture. What the weights show is taken
 * from them: sizes, heads (from `toep.gamma`'s shape), decay (whether `toep.gamma` exists), GTU v3 and GLU v2 (their
 * names), a final and an embedding LayerNorm (their tensors), and with them the norm placement (fairseq gives a
 * pre-norm stack its final norm). What they cannot show is the paper's configuration: `decoder.*` is causal with a
 * √d embedding scale, `encoder.sentence_encoder.*` bidirectional with scale 1 and the MLM head; GTU v2 rather than
 * v1 and no `use_norm`, which leave no trace in the weights.
 * @throws {ConfigError} the names are not an official TNN state dict's
 */
export function inferConfig(w: WeightNames): TnnConfig {
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
    embedScale: decoder ? Math.sqrt(p.dModel!) : 1,
    padIndex: 1,
    maxPositions: 512,
    gtuNorm: false,
    arch: null,
  });
}

/**
 * Lists where `config` contradicts what the weights' names and shapes say.
 * @throws {ConfigError} one or more contradictions, all listed
 */
export function checkConfigAgainstWeights(config: TnnConfig, w: WeightNames): void {
  const p = inferFromWeights(w);
  const problems: string[] = [];
  if (!p.lmHead) {
    problems.push(`lm_head "${config.lmHead}" needs ${bodyPrefix(config)}embed_tokens.weight, which the weights lack`);
  } else if (p.lmHead !== config.lmHead) {
    problems.push(`lm_head is "${config.lmHead}" but the weights are a${p.lmHead === "tied" ? " causal LM (decoder.*)" : "n encoder (encoder.sentence_encoder.*)"}`);
  } else {
    const fields = ["dModel", "vocabSize", "nLayers", "expandRatio", "nHeads", "rpeDim", "rpeLayers", "gluDim", "finalNorm", "embeddingLayernorm"] as const;
    for (const k of fields) {
      if (p[k] !== undefined && p[k] !== config[k]) problems.push(`${jsonKey(k)} is ${JSON.stringify(config[k])} but the weights say ${JSON.stringify(p[k])}`);
    }
    // v1 and v2 share their names; only v3 shows.
    if (p.gtu !== undefined && (p.gtu === "v3") !== (config.gtu === "v3")) problems.push(`gtu is "${config.gtu}" but the weights say ${p.gtu === "v3" ? '"v3"' : '"v1" or "v2"'}`);
    if (p.glu !== undefined && p.glu !== config.glu) problems.push(`glu is "${config.glu}" but the weights say "${p.glu}"`);
    if (p.gamma !== undefined && (p.gamma === null) !== (config.gamma === null)) {
      problems.push(config.gamma === null ? "gamma is null (no decay) but the weights have toep.gamma" : `gamma is ${config.gamma} but the weights have no toep.gamma (no decay)`);
    }
  }
  if (problems.length) throw new ConfigError(`the config contradicts the weights: ${problems.join("; ")}`);
}
