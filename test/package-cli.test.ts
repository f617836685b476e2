/** The `tnn` bin as npm links it from the packed tarball: shebang, executable bit, and the shipped default model. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { packedProject } from "./runtimes/packed-project.js";

it("runs `tnn generate` from the installed tarball with the shipped model", () => {
  const project = packedProject();
  const r = spawnSync(join(project.dir, "node_modules/.bin/tnn"), ["generate", "In the beginning", "--max-tokens", "16", "--seed", "1"], {
    cwd: project.dir, encoding: "utf8", timeout: 120_000, killSignal: "SIGKILL",
  });
  expect(r.stderr + (r.error ? String(r.error) : "")).not.toMatch(/Error/);
  expect(r.status).toBe(0);
  // Byte-level model: 16 tokens are at most 16 bytes after the prompt.
  expect(r.stdout.startsWith("In the beginning")).toBe(true);
  const added = Buffer.byteLength(r.stdout.trimEnd()) - Buffer.byteLength("In the beginning");
  expect(added).toBeGreaterThan(0);
  expect(added).toBeLessThanOrEqual(16);
});
