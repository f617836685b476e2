// Random TNN language models under the official names, as safetensors bytes, for benchmarks: the architecture page's
// shapes with seeded uniform weights (no training; speed and memory do not depend on the values).

/** A config.json object with the paper LM's defaults, overridden by `over`. */
export function lmConfig(over = {}) {
  const c = {
    d_model: 512, n_layers: 7, expand_ratio: 3, n_heads: 1, rpe_dim: 64, rpe_layers: 6, gamma: 0.99, causal: true,
    prenorm: true, glu_dim: 512, vocab_size: 50264, pad_index: 1, embed_scale: 0, final_norm: "layernorm",
    embedding_layernorm: false, lm_head: "tied", max_positions: 512, ...over,
  };
  c.embed_scale = Math.sqrt(c.d_model);
  return c;
}

/** F32 safetensors bytes of a random LM of config `c`. */
export function randomStateDict(c, seed) {
  let s = seed >>> 0;
  const rand = (n, bound) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      a[i] = (s / 2 ** 32 * 2 - 1) * bound;
    }
    return a;
  };
  const d = c.d_model, d1 = d * c.expand_ratio, e = c.rpe_dim, g = c.glu_dim;
  const t = [];
  const add = (name, shape, data) => t.push([name, shape, data]);
  const lin = (name, out, inF, gain = 1) => {
    add(`${name}.weight`, [out, inF], rand(out * inF, gain / Math.sqrt(inF)));
    add(`${name}.bias`, [out], rand(out, gain / Math.sqrt(inF)));
  };
  add("decoder.embed_tokens.weight", [c.vocab_size, d], rand(c.vocab_size * d, 2 / Math.sqrt(d)));
  for (let i = 0; i < c.n_layers; i++) {
    const G = `decoder.layers.${i}.self_attn.gtu.`;
    lin(`${G}u_proj`, d1, d);
    lin(`${G}v_proj`, d1, d);
    lin(`${G}o`, d, d1);
    if (c.gamma !== null) add(`${G}toep.gamma`, [c.n_heads, 1, d1 / c.n_heads], new Float32Array(d1).fill(c.gamma));
    lin(`${G}toep.rpe.pos_proj`, e, 1);
    for (let r = 0; r < c.rpe_layers; r++) lin(`${G}toep.rpe.layers.${r}.2`, e, e);
    lin(`${G}toep.rpe.out.2`, d1, e, 0.3);
    const L = `decoder.layers.${i}.glu.`;
    lin(`${L}l1`, g, d);
    lin(`${L}l2`, g, d);
    lin(`${L}l3`, d, g);
  }
  add("decoder.layer_norm.weight", [d], new Float32Array(d).fill(1));
  add("decoder.layer_norm.bias", [d], new Float32Array(d));
  const header = {};
  let at = 0;
  for (const [name, shape, data] of t) {
    header[name] = { dtype: "F32", shape, data_offsets: [at, at + data.byteLength] };
    at += data.byteLength;
  }
  const text = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  let p = 8 + text.length;
  for (const [, , data] of t) {
    out.set(new Uint8Array(data.buffer), p);
    p += data.byteLength;
  }
  return out;
}
