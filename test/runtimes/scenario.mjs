// The runtime-neutral part of every runtime test: plain JavaScript with no imports, so Node, Deno, Bun, workerd
// and Chromium run the very same code against the installed package. The host passes in the package namespace and
// the files; the test, back in Node, checks what this returns.
//
// Two models: the golden fixture (tiny, random weights) for the logits, and the model shipped in the package for
// generation (a random model's greedy output is one token repeated, which would prove little).

/** Fixture prompt: the first PROMPT_LENGTH ids of its first sequence. */
export const PROMPT_LENGTH = 16;
/** Greedy tokens generated after the fixture prompt. */
export const NEW_TOKENS = 8;
/** Prompt and greedy length for the shipped model. */
export const SHIPPED_PROMPT = "In the beginning";
export const SHIPPED_NEW_TOKENS = 32;

/**
 * @param {any} tnn the package namespace (`import * as tnn from "tnn"`)
 * @param {{ config: object, weights: Uint8Array, input: { ids: number[][] } }} fx the golden fixture
 * @param {{ config: object, weights: Uint8Array }} shipped models/kjv-byte from the installed package
 * @param {{ wasm?: unknown, onToken?: (t: { model: string, id: number, text?: string }) => void | Promise<void> }} [opts]
 *   `wasm`: what init() gets (a Worker passes its imported WebAssembly.Module); `onToken`: streams tokens out
 */
export async function runScenario(tnn, fx, shipped, opts = {}) {
  const backend = await tnn.init(opts.wasm === undefined ? {} : { wasm: opts.wasm });
  const emit = async (model, t) => {
    if (opts.onToken) await opts.onToken({ model, id: t.id, text: t.text });
  };

  const model = await tnn.loadModel(fx.weights, { config: fx.config });
  let dims, logits;
  const tokens = [];
  try {
    const ids = fx.input.ids[0];
    const out = model.forward(ids);
    dims = [...out.dims];
    logits = Array.from(out.toArray());
    out.dispose();
    for await (const t of model.generate(ids.slice(0, PROMPT_LENGTH), { maxNewTokens: NEW_TOKENS, temperature: 0 })) {
      tokens.push(t.id);
      await emit("fixture", t);
    }
  } finally {
    model.dispose();
  }

  const lm = await tnn.loadModel(shipped.weights, { config: shipped.config });
  const shippedTokens = [];
  let shippedText = "";
  try {
    for await (const t of lm.generate(SHIPPED_PROMPT, { maxNewTokens: SHIPPED_NEW_TOKENS, temperature: 0 })) {
      shippedTokens.push(t.id);
      shippedText += t.text ?? "";
      await emit("shipped", t);
    }
  } finally {
    lm.dispose();
  }
  return { backend, dims, logits, tokens, shippedTokens, shippedText, wasmMemoryBytes: tnn.memoryBytes() };
}
