// Host for workerd: a real Worker. It imports the compiled wasm module (Workers cannot compile wasm from bytes) and
// the fixture and the shipped model as modules, runs the scenario on each request and streams NDJSON: a {"token"} line per generated token
// as it comes, then {"result"} (or {"error"}).
import * as tnn from "tnn";
import wasm from "tnn/tnn-simd.wasm";
import config from "./fixture/config.json";
import input from "./fixture/input.json";
import weights from "./fixture/model.safetensors";
import shippedConfig from "tnn/models/kjv-byte/config.json";
import shippedWeights from "tnn/models/kjv-byte/model.safetensors";
import { runScenario } from "./scenario.mjs";

export default {
  async fetch(request) {
    // Anything but /run answers at once: the test's readiness probe must not start the work.
    if (new URL(request.url).pathname !== "/run") return new Response(null, { status: 204 });
    const { readable, writable } = new TransformStream();
    const writer = writable.getWriter();
    const enc = new TextEncoder();
    const line = (o) => writer.write(enc.encode(JSON.stringify(o) + "\n"));
    (async () => {
      try {
        const fx = { config, input, weights: new Uint8Array(weights) };
        const shipped = { config: shippedConfig, weights: new Uint8Array(shippedWeights) };
        const result = await runScenario(tnn, fx, shipped, { wasm, onToken: (t) => line({ token: t }) });
        await line({ result });
      } catch (e) {
        await line({ error: String(e && e.stack ? e.stack : e) });
      } finally {
        await writer.close();
      }
    })();
    return new Response(readable, { headers: { "content-type": "application/x-ndjson" } });
  },
};
