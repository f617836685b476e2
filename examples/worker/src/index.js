// A Cloudflare Worker that streams generated text. Workers cannot compile wasm from bytes, so the compiled module
// comes from an import and is handed to init().
import { init, loadModel } from "tnn";
import wasm from "tnn/tnn-simd.wasm";
import weights from "tnn/models/kjv-byte/model.safetensors";
import config from "tnn/models/kjv-byte/config.json";

// Loaded once per isolate and shared by every request.
let model;
const getModel = () => (model ??= init({ wasm }).then(() => loadModel(new Uint8Array(weights), { config })));

export default {
  async fetch(request) {
    if (request.method !== "GET") return new Response("GET /?prompt=...&max_tokens=...\n", { status: 405 });
    const url = new URL(request.url);
    const prompt = url.searchParams.get("prompt") || "In the beginning";
    const maxNewTokens = Math.min(Number(url.searchParams.get("max_tokens") ?? 100) || 100, 1000);
    const tokens = (await getModel()).generate(prompt, { maxNewTokens, temperature: 0 });
    const enc = new TextEncoder();
    const body = new ReadableStream({
      async pull(controller) {
        const { value, done } = await tokens.next();
        if (done) controller.close();
        else if (value.text) controller.enqueue(enc.encode(value.text));
      },
      cancel: () => tokens.return(undefined),
    });
    return new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } });
  },
};
