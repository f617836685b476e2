// Hostile inputs for tnn's public API, as fast-check arbitraries, and how an attempt ended. Shared by
// test/hostile.test.ts (a few thousand cases on every test run, against the sources) and benches/fuzz.mjs (tens of
// thousands, against the built package). The contract under test: every call settles, and every failure is a
// TnnError subclass; never another exception, never a wasm trap, never a hang.
import fc from "fast-check";

/** How one attempt ended: "ok", "TnnError:<class>", "other:<class>: message", "trap: message" or "hang". */
export async function outcome(tnn, attempt, timeoutMs = 10_000) {
  let timer;
  const hang = new Promise((r) => {
    timer = setTimeout(() => r("hang"), timeoutMs);
  });
  try {
    return await Promise.race([
      (async () => {
        await attempt();
        return "ok";
      })(),
      hang,
    ]);
  } catch (e) {
    if (e instanceof tnn.TnnError) return `TnnError:${e.constructor.name}`;
    if (e instanceof WebAssembly.RuntimeError) return `trap: ${e.message}`;
    return `other:${e?.constructor?.name ?? typeof e}: ${e?.message ?? String(e)}`;
  } finally {
    clearTimeout(timer);
  }
}

/** Whether an outcome keeps the contract. */
export const keepsContract = (o) => o === "ok" || o.startsWith("TnnError:");

// --- safetensors files -------------------------------------------------------------------------------------------

function headerOf(bytes) {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { n, text: new TextDecoder().decode(bytes.subarray(8, 8 + n)), data: bytes.subarray(8 + n) };
}

function assemble(text, data, length) {
  const t = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + t.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length ?? t.length), true);
  out.set(t, 8);
  out.set(data, 8 + t.length);
  return out;
}

/** Edits to a header's JSON text that a careless writer or an attacker makes. */
const textEdit = fc.oneof(
  fc.record({ kind: fc.constant("number"), at: fc.nat(), to: fc.constantFrom("0.0", "1e0", "-1", "4294967296", "9007199254740993", "1e308", "NaN", "\"4\"", "null") }),
  fc.record({ kind: fc.constant("dtype"), to: fc.constantFrom("F64", "I8", "BOOL", "F128", "", "f32") }),
  fc.record({ kind: fc.constant("duplicate"), at: fc.nat() }),
  fc.record({ kind: fc.constant("prefix"), to: fc.constantFrom("\uFEFF", " ", "[", "\u0000") }),
  fc.record({ kind: fc.constant("truncate"), at: fc.nat() }),
  fc.record({ kind: fc.constant("metadata"), to: fc.constantFrom('{"fairseq_arch":"tnn_lm_x","fairseq_args":"{}"}', '{"fairseq_arch":"tnn_v2_decay_99_pre","fairseq_args":"[1]"}', '{"fairseq_arch":"tnn_v2_decay_99_pre","fairseq_args":"{\\"act_fun\\":\\"gelu\\"}"}', '{"n":1}') }),
  fc.record({ kind: fc.constant("huge"), name: fc.constantFrom("toep.gamma", "rpe.pos_proj.weight", "embed_tokens.weight"), dims: fc.constantFrom([1250000000], [131072, 2048], [5000000000], [65536, 65536]) }),
);

function applyEdit(text, e) {
  switch (e.kind) {
    case "number": {
      const nums = [...text.matchAll(/\d+/g)];
      if (!nums.length) return text;
      const m = nums[e.at % nums.length];
      return text.slice(0, m.index) + e.to + text.slice(m.index + m[0].length);
    }
    case "dtype":
      return text.replace(/"F32"/, `"${e.to}"`);
    case "duplicate": {
      const entries = [...text.matchAll(/"[^"]+":\{"dtype"[^}]*\}/g)];
      if (!entries.length) return text;
      const m = entries[e.at % entries.length];
      return text.slice(0, m.index) + m[0] + "," + text.slice(m.index);
    }
    case "prefix":
      return e.to + text;
    case "truncate":
      return text.slice(0, e.at % (text.length + 1));
    case "metadata":
      return text.replace(/"__metadata__":\{[^}]*\}/, `"__metadata__":${e.to}`);
    case "huge": {
      const re = new RegExp(`("[^"]*${e.name.replace(/\./g, "\\.")}":\\{"dtype":"F32","shape":)\\[[^\\]]*\\]`);
      return text.replace(re, `$1${JSON.stringify(e.dims)}`);
    }
  }
  return text;
}

/** `arb` in one case out of six, else undefined. */
const rarely = (arb) => fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });

/** A model file, valid or mutated: header edits, byte flips, truncation, trailing bytes, a lying length field. */
export function safetensorsFile(valid) {
  const { text, data } = headerOf(valid);
  // Most cases change one thing, so that each kind of damage is met past the checks that catch the others.
  return fc.record({
    edits: fc.array(textEdit, { maxLength: 2 }),
    flips: fc.array(fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }), inData: fc.boolean() }), { maxLength: 3 }),
    cut: rarely(fc.nat()),
    extra: rarely(fc.integer({ min: 1, max: 16 })),
    length: rarely(fc.oneof(fc.nat({ max: 4096 }), fc.constantFrom(2 ** 53 - 1, 100_000_001, 2 ** 40))),
  }).map(({ edits, flips, cut, extra, length }) => {
    let t = text;
    for (const e of edits) t = applyEdit(t, e);
    let bytes = assemble(t, data, length);
    const dataStart = bytes.length - data.length;
    for (const f of flips) {
      // Flips in the data change values (NaN among them); flips in the header break its text.
      const at = f.inData && data.length ? dataStart + (f.at % data.length) : f.at % bytes.length;
      bytes[at] ^= f.xor;
    }
    if (cut !== undefined) bytes = bytes.slice(0, cut % (bytes.length + 1));
    if (extra !== undefined) {
      const grown = new Uint8Array(bytes.length + extra);
      grown.set(bytes);
      bytes = grown;
    }
    return bytes;
  });
}

// --- sources ------------------------------------------------------------------------------------------------------

/** Error values a failing stream may be errored with, `null` and `undefined` included. */
const reasons = fc.constantFrom(new Error("connection reset"), null, undefined, "a string", { code: 1 }, 42);

/** How a file reaches `loadModel`: bytes, an ArrayBuffer (maybe detached), streams (chunked, failing, locked, BYOB that forget to respond), Responses. */
export function source(file) {
  return fc.record({
    kind: fc.constantFrom("bytes", "arraybuffer", "detached", "stream", "byte-stream", "lazy-byte-stream", "response", "locked-stream", "locked-response", "bad-status", "used-response"),
    sizes: fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 5 }),
    failAt: fc.oneof({ weight: 2, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat() }),
    reason: reasons,
  }).map((s) => () => makeSource(file, s));
}

function chunks(file, sizes, failAt, reason, controller, state) {
  if (failAt !== undefined && state.at >= failAt % (file.length + 1)) {
    controller.error(reason);
    return false;
  }
  if (state.at >= file.length) return false;
  const n = sizes[state.k++ % sizes.length];
  controller.enqueue(file.slice(state.at, state.at + n));
  state.at += n;
  return true;
}

function makeSource(file, { kind, sizes, failAt, reason }) {
  const state = { at: 0, k: 0 };
  const plain = () => new ReadableStream({
    pull(c) {
      if (!chunks(file, sizes, failAt, reason, c, state) && state.at >= file.length) c.close();
    },
  }, { highWaterMark: 0 });
  const bytes = (respond) => new ReadableStream({
    type: "bytes",
    pull(c) {
      if (!chunks(file, sizes, failAt, reason, c, state) && state.at >= file.length) {
        c.close();
        // A careless source forgets this, and leaves a BYOB read pending for ever.
        if (respond) c.byobRequest?.respond(0);
      }
    },
  });
  switch (kind) {
    case "bytes":
      return file;
    case "arraybuffer":
      return file.slice().buffer;
    case "detached": {
      const b = file.slice().buffer;
      structuredClone(b, { transfer: [b] });
      return b;
    }
    case "stream":
      return plain();
    case "byte-stream":
      return bytes(true);
    case "lazy-byte-stream":
      return bytes(false);
    case "response":
      return new Response(plain());
    case "locked-stream": {
      const s = plain();
      s.getReader();
      return s;
    }
    case "locked-response": {
      const r = new Response(plain());
      r.body.getReader();
      return r;
    }
    case "bad-status":
      return new Response("not found", { status: 404 });
    case "used-response": {
      const r = new Response(file);
      void r.arrayBuffer();
      return r;
    }
  }
  return file;
}

// --- configs, tokenizers, calls -----------------------------------------------------------------------------------

/** Anything a user might pass as a config: JSON text, snake and camel objects with wrong types, the official form. */
export const config = fc.oneof(
  fc.jsonValue(),
  fc.string(),
  fc.dictionary(fc.constantFrom("d_model", "n_layers", "expand_ratio", "n_heads", "rpe_dim", "rpe_layers", "gamma", "causal", "prenorm", "glu_dim", "vocab_size", "pad_index", "embed_scale", "final_norm", "embedding_layernorm", "lm_head", "gtu", "glu", "gtu_norm", "adaptive_input", "adaptive_softmax", "arch", "bogus"), fc.jsonValue()),
  fc.record({ fairseq_arch: fc.oneof(fc.constantFrom("tnn_v2_decay_99_pre", "tnn_decay_99", "roberta_tnn_v2_decay_99", "nope"), fc.jsonValue()), fairseq_args: fc.oneof(fc.dictionary(fc.constantFrom("decoder_embed_dim", "decoder_layers", "use_decay", "gamma", "glu_type", "gtu_type", "adaptive_input", "adaptive_input_cutoff", "act_fun"), fc.jsonValue()), fc.jsonValue()) }),
);

/** Non-string values a tokenizer may be handed. */
export const notText = fc.oneof(fc.integer(), fc.constant(null), fc.constant(undefined), fc.object(), fc.array(fc.integer()), fc.boolean());

/** Values where token ids are expected. */
export const ids = (vocab) => fc.oneof(
  fc.array(fc.integer({ min: 0, max: vocab - 1 }), { minLength: 1, maxLength: 64 }),
  fc.array(fc.oneof(fc.integer({ min: -5, max: vocab + 5 }), fc.double(), fc.constant(NaN), fc.string()), { maxLength: 8 }),
  fc.array(fc.array(fc.integer({ min: 0, max: vocab - 1 }), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
  fc.oneof(fc.constant(null), fc.string(), fc.object(), fc.constant(new Int32Array([vocab]))),
);

/** Options objects for `generate`, sane and not. */
export const generateOptions = fc.oneof(
  fc.record({
    maxNewTokens: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.double(), fc.constant(2 ** 40)),
    temperature: fc.oneof(fc.double({ min: -1, max: 3 }), fc.constant(NaN)),
    topK: fc.oneof(fc.integer({ min: -1, max: 300 }), fc.constant(0.5)),
    topP: fc.oneof(fc.double({ min: -0.5, max: 1.5 }), fc.constant(NaN)),
    repetitionPenalty: fc.double({ min: -1, max: 3 }),
    seed: fc.oneof(fc.integer(), fc.double(), fc.string()),
    stopStrings: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.string()),
    stopTokens: fc.oneof(fc.array(fc.integer({ min: -3, max: 300 }), { maxLength: 3 }), fc.integer()),
  }, { requiredKeys: [] }),
  fc.jsonValue(),
  fc.dictionary(fc.string(), fc.jsonValue()),
);

/** Options for `model.decoder`, sane and not, and the calls made on the decoder: a prompt, then steps. Sane values
 * are weighted up, so that a good share of the cases decode through to the limit and past it. */
export const decoderUse = (vocab) => {
  const mostly = (sane, junk) => fc.oneof({ arbitrary: sane, weight: 6 }, { arbitrary: junk, weight: 1 });
  const token = fc.integer({ min: 0, max: vocab - 1 });
  return fc.record({
    options: mostly(
      fc.record({
        mode: mostly(fc.constantFrom("online", "naive", "etsc"), fc.string()),
        maxLength: mostly(fc.integer({ min: 1, max: 200 }), fc.oneof(fc.integer({ min: -2, max: 0 }), fc.double(), fc.constant(2 ** 40))),
        limit: mostly(fc.integer({ min: 1, max: 80 }), fc.oneof(fc.integer({ min: -2, max: 0 }), fc.double(), fc.constant(NaN), fc.string())),
        etscWindow: mostly(fc.integer({ min: 1, max: 600 }), fc.oneof(fc.integer({ min: -2, max: 0 }), fc.double())),
        window: mostly(fc.boolean(), fc.integer()),
      }, { requiredKeys: [] }),
      fc.jsonValue(),
    ),
    prompt: mostly(fc.array(token, { minLength: 1, maxLength: 40 }), ids(vocab)),
    steps: fc.array(mostly(token, fc.oneof(fc.integer({ min: -3, max: vocab + 3 }), fc.double(), fc.string())), { maxLength: 90 }),
  });
};

/** Makes a decoder with `use.options`, prefills `use.prompt` and steps through `use.steps`, freeing it after. */
export function driveDecoder(model, use) {
  const dec = model.decoder(use.options);
  try {
    dec.prefill(use.prompt);
    for (const id of use.steps) dec.step(id);
  } finally {
    dec.dispose();
  }
}
