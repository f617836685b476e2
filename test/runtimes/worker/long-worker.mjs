// A Worker generating a long text with the shipped model, one request: a {"at"} line every `every` tokens with the
// wasm memory and the bytes in use at that point, then {"result"} (or {"error"}). Decayed kernels decode on windowed
// states past their windows, so both figures must stop growing there.
import * as tnn from "tnn";
import wasm from "tnn/tnn-simd.wasm";
import config from "tnn/models/kjv-byte/config.json";
import weights from "tnn/models/kjv-byte/model.safetensors";
import request from "./long-request.json";
import { ndjsonResponse } from "./ndjson-response.mjs";

export default {
  async fetch(req) {
    if (new URL(req.url).pathname !== "/run") return new Response(null, { status: 204 });
    return ndjsonResponse(async (line) => {
      await tnn.init({ wasm });
      const model = await tnn.loadModel(new Uint8Array(weights), { config });
      try {
        const t0 = Date.now();
        let n = 0;
        // No stop token: the byte model has none, and the run must reach its length.
        for await (const _ of model.generate(request.prompt, { maxNewTokens: request.maxNewTokens, seed: 7, stopTokens: [] })) {
          if (++n % request.every === 0) await line({ at: n, wasmBytes: tnn.memoryBytes(), inUse: tnn.heapInUse() });
        }
        return { generated: n, ms: Date.now() - t0, windows: model.body.layers.map((l) => l.tno.window), build: tnn.backendInfo().build };
      } finally {
        model.dispose();
      }
    });
  },
};
