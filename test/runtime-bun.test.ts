import { join } from "node:path";
import { binDir } from "./runtimes/packed-project.js";
import { describeServerRuntime } from "./runtimes/server-runtime.js";

// Bun runs the Node example unchanged: the same file, the same package entry.
describeServerRuntime({ name: "bun", command: (s) => [join(binDir, "bun"), ["run", s]], example: "examples/node/generate.mjs" });
