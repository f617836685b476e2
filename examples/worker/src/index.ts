// A Cloudflare Worker that streams generated text. Workers cannot compile wasm from bytes, so the compiled module
// comes from an import and is handed to init(). The types of `Env`, `ExportedHandler` and of the .wasm and
// .safetensors imports come from `npx wrangler types` (worker-configuration.d.ts).
import { type CausalLM, type TnnConfigJSON, init, loadModel } from "tnn";
import wasm from "tnn/tnn-simd.wasm";
import weights from "tnn/models/kjv-byte/model.safetensors";
import config from "tnn/models/kjv-byte/config.json"; // typed as plain JSON, hence `as TnnConfigJSON` below

// Loaded once per isolate and shared by every request.
let model: Promise<CausalLM> | undefined;
const getModel = () => (model ??= init({ wasm }).then(() => loadModel(new Uint8Array(weights), { config: config as TnnConfigJSON })));

export default {
  async fetch(request, _env, ctx) {
    if (request.method !== "GET") return new Response("GET /?prompt=...&max_tokens=...\n", { status: 405 });
    const url = new URL(request.url);
    const prompt = url.searchParams.get("prompt") || "In the beginning";
    const maxNewTokens = Math.min(Number(url.searchParams.get("max_tokens") ?? 100) || 100, 1000);
    const tokens = (await getModel()).generate(prompt, { maxNewTokens, temperature: 0 });
    // Each token is written as it comes, at the pace the client reads. When the client goes away the write fails,
    // and leaving the loop ends the generator, which frees its decode state.
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    ctx.waitUntil((async () => {
      const writer = writable.getWriter();
      const enc = new TextEncoder();
      try {
        for await (const { text } of tokens) if (text) await writer.write(enc.encode(text));
        await writer.close();
      } catch (e) {
        await writer.abort(e).catch(() => undefined);
      }
    })());
    return new Response(readable, { headers: { "content-type": "text/plain; charset=utf-8" } });
  },
} satisfies ExportedHandler<Env>;
