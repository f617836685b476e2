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

it("runs the same seeded generation on one thread and on two, and says which it used", () => {
  const project = packedProject();
  const tnn = (...args: string[]) => spawnSync(join(project.dir, "node_modules/.bin/tnn"), args, {
    cwd: project.dir, encoding: "utf8", timeout: 120_000, killSignal: "SIGKILL",
  });
  const one = tnn("generate", "In the beginning", "--max-tokens", "24", "--seed", "3", "--threads", "1");
  const two = tnn("generate", "In the beginning", "--max-tokens", "24", "--seed", "3", "--threads", "2");
  expect(one.stderr + two.stderr).not.toMatch(/Error/);
  expect([one.status, two.status]).toEqual([0, 0]);
  // The kernels return the same bits on any thread count, so sampling follows the same path.
  expect(two.stdout).toBe(one.stdout);
  const bench = tnn("bench", "--threads", "2", "--prompt-length", "16", "--new-tokens", "8");
  expect(bench.status).toBe(0);
  expect(bench.stdout).toMatch(/wasm (relaxed|simd) build on 2 threads/);
});
