/**
 * workerd, a long generation: the shipped model writes 100,000 tokens in one request of a real Worker. Its kernels
 * decay, so past the longest window the decoder runs on windowed states of fixed size: the wasm memory and the bytes
 * in use must stop growing there, and the isolate (JS heap, ArrayBuffers, wasm) must stay inside a Worker's 128 MB.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type PackedProject, packedProject, repoRoot, runtimesDir } from "./runtimes/packed-project.js";
import { runNdjson } from "./runtimes/spawn.js";
import { type RunningWorkerd, bundleWithWrangler, freePort, startWorkerd, writeWorkerdConfig } from "./runtimes/workerd.js";

const COMPAT_DATE = "2026-11-01";
const NODE22 = join(repoRoot, "node_modules/node22/bin/node");
const WORKER_MEMORY_LIMIT = 128 * 1024 * 1024;
const TOKENS = 100_000;
const EVERY = 2_000;

describe("workerd: a long generation in a Worker", () => {
  let project: PackedProject;
  let running: RunningWorkerd | undefined;
  beforeAll(() => {
    project = packedProject();
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it(`the shipped model generates ${TOKENS.toLocaleString("en-US")} tokens with memory flat past its windows`, async () => {
    const dir = join(project.dir, `long-worker-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    for (const f of ["long-worker.mjs", "ndjson-response.mjs"]) cpSync(join(runtimesDir, "worker", f), join(dir, f));
    cpSync(join(runtimesDir, "worker", "long-wrangler.toml"), join(dir, "wrangler.toml"));
    const prompt = Array.from(new TextEncoder().encode("In the beginning God created the heaven and the earth."));
    writeFileSync(join(dir, "long-request.json"), JSON.stringify({ prompt, maxNewTokens: TOKENS, every: EVERY }));
    const bundle = bundleWithWrangler(dir);
    const port = await freePort();
    const inspectorPort = await freePort();
    running = await startWorkerd(writeWorkerdConfig(bundle, "long-worker.js", port, COMPAT_DATE), port, 30_000, inspectorPort);
    const { lines } = await runNdjson(NODE22, ["--no-warnings", join(runtimesDir, "inspector-heap-probe.mjs"), String(inspectorPort), `http://127.0.0.1:${port}/run`], {
      cwd: dir,
      timeoutMs: 600_000,
    });
    const error = lines.find((l) => "error" in l);
    if (error) throw new Error(`the Worker failed: ${String(error.error)}`);
    const heap = lines.at(-1)?.heap as { totalSize: number; backingStorageSize: number } | undefined;
    const result = lines.find((l) => "result" in l)?.result as { generated: number; ms: number; windows: number[]; build: string } | undefined;
    const points = lines.filter((l) => "at" in l) as unknown as { at: number; wasmBytes: number; inUse: number }[];
    if (!heap || !result) throw new Error(`incomplete output: ${JSON.stringify(lines.slice(-3))}`);
    const peak = running.peakRssBytes();
    await running.stop();
    running = undefined;

    expect(result.build).toBe("simd");
    expect(result.generated).toBe(TOKENS);
    expect(points.map((p) => p.at)).toEqual(Array.from({ length: TOKENS / EVERY }, (_, i) => (i + 1) * EVERY));
    // Flat from the first checkpoint past the longest window (plus the prompt) to the last.
    const settled = Math.max(...result.windows) + prompt.length;
    const after = points.filter((p) => p.at >= settled + EVERY);
    expect(after.length).toBeGreaterThan(40);
    for (const p of after) {
      expect(p.wasmBytes).toBe(after[0]!.wasmBytes);
      expect(p.inUse).toBe(after[0]!.inUse);
    }
    // The isolate's own count, peaks added: JS heap, ArrayBuffers outside it, wasm memory.
    const isolateBytes = heap.totalSize + heap.backingStorageSize + points.at(-1)!.wasmBytes;
    mkdirSync(join(repoRoot, "test/artifacts"), { recursive: true });
    writeFileSync(join(repoRoot, "test/artifacts/workerd-long.json"), JSON.stringify({
      note: `the shipped model generating ${TOKENS} tokens in one Worker request; RSS is the whole workerd process`,
      windows: result.windows, ms: result.ms, heap, isolatePeakBytes: isolateBytes, peakRssBytes: peak,
      wasmBytes: points.map((p) => [p.at, p.wasmBytes, p.inUse]),
    }, null, 2));
    expect(isolateBytes).toBeLessThan(WORKER_MEMORY_LIMIT);
  }, 900_000);
});
