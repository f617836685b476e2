import { join } from "node:path";
import { binDir } from "./runtimes/packed-project.js";
import { describeServerRuntime } from "./runtimes/server-runtime.js";

// Deno resolves "tnn" through the scratch project's package.json and node_modules (the "deno" export condition).
describeServerRuntime({
  name: "deno",
  command: (s) => [join(binDir, "deno"), ["run", "--quiet", "--no-config", "--node-modules-dir=manual", "--allow-read", "--allow-env", s]],
  example: "examples/deno/generate.ts",
});
