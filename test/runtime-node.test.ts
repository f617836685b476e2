import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { repoRoot } from "./runtimes/packed-project.js";
import { describeServerRuntime } from "./runtimes/server-runtime.js";

// The maintained LTS lines, from devDependencies (node22, node24), whatever Node runs vitest.
for (const major of [22, 24]) {
  const node = join(repoRoot, `node_modules/node${major}/bin/node`);
  it(`node_modules/node${major} is Node ${major}`, () => {
    expect(spawnSync(node, ["--version"], { encoding: "utf8" }).stdout).toMatch(new RegExp(`^v${major}\\.`));
  });
  describeServerRuntime({ name: `node${major}`, command: (s) => [node, [s]], example: "examples/node/generate.mjs" });
}
