/**
 * The TNN body every official architecture shares, built from its config: token embedding, an optional embedding
 * LayerNorm, the blocks, an optional final LayerNorm. Which GTU, which GLU and where the norms sit are parts chosen
 * here, once, from the config; every official parameter name of the body is written in this file.
 * @module
 */
import { type ConvState, windowConvState } from "../core/decode-conv.js";
import { Tensor } from "../core/tensor.js";
import { windowBytes } from "../nn/decay-window.js";
import { AdaptiveInput } from "../nn/adaptive-input.js";
import { Embedding } from "../nn/embedding.js";
import { type ChannelMixer, Glu, GluV2 } from "../nn/glu.js";
import { type GtuShape, type TokenMixer, Gtu, GtuV1, GtuV3 } from "../nn/gtu.js";
import { LayerNorm } from "../nn/layer-norm.js";
import { PostNorm, PreNorm } from "../nn/residual.js";
import { type SequenceMixer } from "../nn/sequence-mixer.js";
import { SimpleRMSNorm } from "../nn/simple-rms-norm.js";
import { TnnBlock } from "../nn/tnn-block.js";
import { type VarBuilder } from "../nn/var-builder.js";
import { type GluVersion, type GtuVersion, type TnnConfig, mixerChannels } from "./config.js";

type F32 = Tensor<"float32">;

/** The token mixer of each GTU version: tinygrad's "variants are constructors". */
const TOKEN_MIXERS: Readonly<Record<GtuVersion, { load(vb: VarBuilder, s: GtuShape): TokenMixer }>> = { v1: GtuV1, v2: Gtu, v3: GtuV3 };

/** The channel mixer of each GLU version. */
const CHANNEL_MIXERS: Readonly<Record<GluVersion, { load(vb: VarBuilder, dim: number, hidden: number): ChannelMixer }>> = { v1: Glu, v2: GluV2 };

/** Options of building a body. */
export interface BodyOptions {
  /** Byte budget of each layer's Toeplitz kernel cache, filled from a length's second forward on (see `Tno`). */
  readonly tnoCacheBytes?: number;
  /**
   * Zero the embedded rows of this token id, as fairseq's `TransformerEncoder` does with padding right after the
   * embedding (and its LayerNorm); the decoder masks nothing.
   */
  readonly maskPadding?: number;
}

/** One block: `layers.{i}.self_attn.gtu.*` and `layers.{i}.glu.*`. */
function loadBlock(vb: VarBuilder, c: TnnConfig, options: BodyOptions): TnnBlock {
  const shape: GtuShape = {
    dim: c.dModel,
    channels: mixerChannels(c),
    causal: c.causal,
    heads: c.nHeads,
    rpeDim: c.rpeDim,
    rpeLayers: c.rpeLayers,
    decay: c.gamma !== null,
    outNorm: c.gtuNorm,
    cacheBytes: options.tnoCacheBytes,
  };
  const tokenMixer = TOKEN_MIXERS[c.gtu].load(vb.pp("self_attn").pp("gtu"), shape);
  const channelMixer = CHANNEL_MIXERS[c.glu].load(vb.pp("glu"), c.dModel, c.gluDim);
  const norm = new SimpleRMSNorm();
  return new TnnBlock(tokenMixer, channelMixer, c.prenorm ? new PreNorm(norm) : new PostNorm(norm));
}

/**
 * Tokens per block when a long input runs through windowed states block by block: one block's activations are
 * what such a pass holds besides the windows (about 50 MiB for the paper-size LM).
 */
export const PIPELINE_BLOCK = 4096;

/**
 * `x = scale · E[ids]`, `LayerNorm(x)` if the config has an embedding norm, padding rows zeroed if asked, the
 * blocks, the final LayerNorm if any: hidden states `[n, d]`.
 */
export class TnnBody {
  private constructor(
    /** One table, or an adaptive input. */
    readonly embed: Embedding | AdaptiveInput,
    readonly embedNorm: LayerNorm | undefined,
    readonly layers: readonly TnnBlock[],
    readonly finalNorm: LayerNorm | undefined,
    readonly maskPadding: number | undefined,
  ) {}

  /** The body's parameters under `vb` (`decoder.` or `encoder.sentence_encoder.`). */
  static load(vb: VarBuilder, c: TnnConfig, options: BodyOptions = {}): TnnBody {
    const a = c.adaptiveInput;
    const embed = a
      ? AdaptiveInput.load(vb.pp("embed_tokens"), { vocabSize: c.vocabSize, dim: c.dModel, cutoffs: a.cutoffs, factor: a.factor }, c.embedScale)
      : Embedding.load(vb.pp("embed_tokens"), c.vocabSize, c.dModel, c.embedScale);
    const embedNorm = c.embeddingLayernorm ? LayerNorm.load(vb.pp("layernorm_embedding"), c.dModel) : undefined;
    const layers = Array.from({ length: c.nLayers }, (_, i) => loadBlock(vb.pp("layers").pp(i), c, options));
    const finalNorm = c.finalNorm === "layernorm" ? LayerNorm.load(vb.pp("layer_norm"), c.dModel) : undefined;
    return new TnnBody(embed, embedNorm, Object.freeze(layers), finalNorm, options.maskPadding);
  }

  /** Model width d. */
  get dim(): number {
    return this.embed.dim;
  }

  /**
   * An upper bound on the wasm bytes {@link forward} of `n` tokens holds at its peak, output included: a block keeps
   * its input, the normalised input, the two gates, the mixed sequence and the outputs alive at once, in the widths
   * d, d1 and the GLU's; `selfMixing` adds what the widest layer's own Toeplitz product allocates.
   */
  forwardBytes(n: number, selfMixing = true): number {
    const d = this.dim;
    let width = 0;
    let mixing = 0;
    for (const l of this.layers) {
      const d1 = l.tno.channels;
      const g = l.channelMixer instanceof Glu || l.channelMixer instanceof GluV2 ? l.channelMixer.l1.outFeatures : d;
      width = Math.max(width, 4 * d + 4 * d1 + 2 * g);
      if (selfMixing) mixing = Math.max(mixing, l.tno.forwardBytes(n));
    }
    return 4 * n * (width + 1) + mixing;
  }

  /**
   * The last position's hidden state `[1, d]` of `ids`, running the stack `block` tokens at a time with each layer's
   * windowed state as its mixer, so memory holds one block's activations and the windows, whatever the length.
   * Exact as the full forward is (the kernels' tails past their windows are below float32 resolution). Every layer
   * must be causal with a finite window.
   */
  lastHidden(ids: Int32Array, block: number): F32 {
    const states: ConvState[] = [];
    try {
      for (const l of this.layers) states.push(windowConvState(l.tno.windowKernel()!));
      const mixers = states.map((st): SequenceMixer => ({
        mix: (v) => {
          const y = Tensor.empty("float32", v.dims);
          try {
            st.push!(v, y);
          } catch (e) {
            y.dispose();
            throw e;
          }
          return y;
        },
      }));
      return this.lastHiddenThrough(ids, block, mixers);
    } finally {
      for (const st of states) st.dispose();
    }
  }

  /**
   * The last position's hidden state `[1, d]` of `ids`, run `block` tokens at a time through `mixers`: states that
   * carry each layer's history from one call to the next (windowed decode states), so only one block's activations
   * are alive at a time.
   */
  lastHiddenThrough(ids: Int32Array, block: number, mixers: readonly SequenceMixer[]): F32 {
    let last: F32 | undefined;
    try {
      for (let start = 0; start < ids.length; start += block) {
        const h = this.forward(ids.subarray(start, Math.min(start + block, ids.length)), mixers);
        last?.dispose();
        last = h;
      }
      using row = last!.select(last!.dims[0]! - 1);
      const out = Tensor.empty("float32", [1, this.dim]);
      out.data.set(row.data);
      return out;
    } finally {
      last?.dispose();
    }
  }

  /** An upper bound on the wasm bytes {@link lastHidden} holds: one block's activations and every layer's window. */
  pipelinedBytes(block: number): number {
    return this.forwardBytes(block, false) + this.layers.reduce((s, l) => s + windowBytes(l.tno.window, l.tno.channels), 0);
  }

  /** Each layer's own Toeplitz kernel: the mixers of a whole-sequence forward. */
  get tnos(): SequenceMixer[] {
    return this.layers.map((l) => l.tno);
  }

  /**
   * Hidden states `[n, d]` of valid ids (checked by the caller), layer `i` mixing through `mixers[i]`: the layers'
   * own kernels for a whole sequence, or a decode state's per-layer states for the rows that come next.
   */
  forward(ids: Int32Array, mixers: readonly SequenceMixer[] = this.tnos): F32 {
    let x = this.embed.forward(ids);
    try {
      this.embedNorm?.forward(x, x);
      if (this.maskPadding !== undefined) zeroRowsOf(x, ids, this.maskPadding);
      for (const [i, layer] of this.layers.entries()) {
        const y = layer.forward(x, mixers[i]);
        x.dispose();
        x = y;
      }
      this.finalNorm?.forward(x, x);
      return x;
    } catch (e) {
      x.dispose();
      throw e;
    }
  }

  /** Frees every layer. Idempotent. */
  dispose(): void {
    this.embed.dispose();
    this.embedNorm?.dispose();
    for (const l of this.layers) l.dispose();
    this.finalNorm?.dispose();
  }
}

/** Sets row `i` of `x` (`[n, d]`) to zero wherever `ids[i] === id`. */
function zeroRowsOf(x: F32, ids: Int32Array, id: number): void {
  const d = x.dims[1]!;
  const data = x.data;
  for (let i = 0; i < ids.length; i++) if (ids[i] === id) data.fill(0, i * d, (i + 1) * d);
}
