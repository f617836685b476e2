/** The paper's WikiText-103 LM shape (d=512, 7 layers, d1=1536, RPE 64×6, λ=0.99) with random weights and a small vocabulary. */
import { lmConfig, randomStateDict } from "./random-state-dict.js";
import { writeSafetensors } from "./safetensors-writer.js";

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
