import { describeServerRuntime } from "./runtimes/server-runtime.js";

describeServerRuntime({ name: "node", command: (s) => [process.execPath, [s]], example: "examples/node/generate.mjs" });
