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
import { ndjsonResponse } from "./ndjson-response.mjs";

export default {
  async fetch(request) {
    // Anything but /run answers at once: the test's readiness probe must not start the work.
    if (new URL(request.url).pathname !== "/run") return new Response(null, { status: 204 });
    return ndjsonResponse(async (line) => {
      const fx = { config, input, weights: new Uint8Array(weights) };
      const shipped = { config: shippedConfig, weights: new Uint8Array(shippedWeights) };
      return runScenario(tnn, fx, shipped, { wasm, onToken: (t) => line({ token: t }) });
    });
  },
};
