/** The paper's WikiText-103 LM shape (d=512, 7 layers, d1=1536, RPE 64×6, λ=0.99) with random weights and a small vocabulary. */
import { lmConfig, randomStateDict } from "./random-state-dict.js";
import { type RawTensor, writeSafetensors } from "./safetensors-writer.js";

export const PAPER_LM_CONFIG = lmConfig({
  d_model: 512, n_layers: 7, expand_ratio: 3, n_heads: 1, rpe_dim: 64, rpe_layers: 6, gamma: 0.99, glu_dim: 512, vocab_size: 512,
});

/** safetensors bytes of a random paper-shaped LM under the official names. */
export function paperLmFile(seed = 2023): Uint8Array {
  return writeSafetensors(randomStateDict(PAPER_LM_CONFIG, seed, { gammaRange: [0.99, 0.99] }));
}

/** Deterministic pseudo-random token ids. */
export function paperLmIds(n: number, vocab = PAPER_LM_CONFIG.vocab_size): Int32Array {
  let s = 12345;
  return Int32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s >>> 8) % vocab;
  });
}

/** The paper's LM at its real size (tnn-architecture.md): a vocabulary of 50,264 tokens, 48.7M parameters. */
export const PAPER_LM_FULL_CONFIG = lmConfig({ ...PAPER_LM_CONFIG, vocab_size: 50264 });

/**
 * F16 safetensors bytes of a random paper-size LM, made straight as half bits (random sign and mantissa, magnitude
 * set by the exponent range) so that 48.7M parameters take well under a second; norms are 1, biases 0, λ = 0.99.
 * Sane magnitudes are all it needs: correctness is checked elsewhere, this file is for memory and speed.
 */
export function paperLmFullF16(seed = 2023): { bytes: Uint8Array; parameters: number } {
  const c = PAPER_LM_FULL_CONFIG;
  const { d_model: d, vocab_size: V, rpe_dim: e } = c;
  const d1 = d * c.expand_ratio;
  let s = seed >>> 0;
  const next = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  // Half bits with exponent field in [lo, lo + 3]: magnitudes in [2^(lo-15), 2^(lo-11)).
  const random = (n: number, lo: number): Uint16Array => {
    const a = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      const r = next();
      a[i] = (r & 0x8000) | ((lo + ((r >>> 10) & 3)) << 10) | (r & 0x3ff);
    }
    return a;
  };
  const W = new Map<string, RawTensor>();
  const put = (name: string, shape: number[], data: Uint16Array): void => void W.set(name, { shape, data, dtype: "F16" });
  const linear = (name: string, out: number, inF: number, lo: number): void => {
    put(`${name}.weight`, [out, inF], random(out * inF, lo));
    put(`${name}.bias`, [out], new Uint16Array(out));
  };
  put("decoder.embed_tokens.weight", [V, d], random(V * d, 7));
  for (let l = 0; l < c.n_layers; l++) {
    const G = `decoder.layers.${l}.self_attn.gtu.`;
    linear(`${G}u_proj`, d1, d, 8);
    linear(`${G}v_proj`, d1, d, 8);
    linear(`${G}o`, d, d1, 7);
    put(`${G}toep.gamma`, [1, 1, d1], new Uint16Array(d1).fill(0x3beb)); // 0.99 in half precision
    linear(`${G}toep.rpe.pos_proj`, e, 1, 10);
    for (let r = 0; r < c.rpe_layers; r++) linear(`${G}toep.rpe.layers.${r}.2`, e, e, 9);
    linear(`${G}toep.rpe.out.2`, d1, e, 5);
    const L = `decoder.layers.${l}.glu.`;
    linear(`${L}l1`, c.glu_dim, d, 8);
    linear(`${L}l2`, c.glu_dim, d, 8);
    linear(`${L}l3`, d, c.glu_dim, 8);
  }
  put("decoder.layer_norm.weight", [d], new Uint16Array(d).fill(0x3c00));
  put("decoder.layer_norm.bias", [d], new Uint16Array(d));
  let parameters = 0;
  for (const t of W.values()) parameters += t.data.length;
  return { bytes: writeSafetensors(W), parameters };
}
