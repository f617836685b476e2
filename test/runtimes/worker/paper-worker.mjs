// A Worker serving a paper-size LM (48.7M parameters, f16 or int8 storage) within a Worker's 128 MB: the weights are too big to
// bundle, so they come from another service (R2 or an origin in production, a disk service here) and stream into
// wasm memory as they arrive. One request: load, then stream greedy tokens as NDJSON {"token": id} lines, then a
// {"result"} line with wasm memory figures and timings (or {"error"}).
import * as tnn from "tnn";
import wasm from "tnn/tnn-simd.wasm";
import config from "./paper-config.json";
import request from "./paper-request.json";
import { ndjsonResponse } from "./ndjson-response.mjs";

export default {
  async fetch(req, env) {
    if (new URL(req.url).pathname !== "/run") return new Response(null, { status: 204 });
    return ndjsonResponse(async (line) => {
      const t0 = Date.now();
      await tnn.init({ wasm });
      const weights = await env.WEIGHTS.fetch("http://weights/model.safetensors");
      const model = await tnn.loadModel(weights, { config, dtype: request.dtype, tokenizer: "none" });
      try {
        const loadMs = Date.now() - t0;
        const afterLoad = tnn.memoryBytes();
        const t1 = Date.now();
        for await (const t of model.generate(request.prompt, { maxNewTokens: request.maxNewTokens, temperature: 0 })) await line({ token: t.id });
        const generateMs = Date.now() - t1;
        return { wasmBytesAfterLoad: afterLoad, wasmBytes: tnn.memoryBytes(), loadMs, generateMs, build: tnn.backendInfo().build };
      } finally {
        model.dispose();
      }
    });
  },
};
