/**
 * workerd, Cloudflare's runtime: the packed package inside a real Worker, bundled by wrangler and served on loopback.
 * The Worker imports the .wasm as a module and streams tokens in its HTTP response.
 */
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FIXTURE, type ScenarioResult, type StreamedToken, checkScenario, expectedTokens } from "./runtimes/expected.js";
import { type PackedProject, packedProject, repoRoot, runDir, runtimesDir } from "./runtimes/packed-project.js";
import { tokensAndResult } from "./runtimes/spawn.js";
import { SHIPPED_NEW_TOKENS, SHIPPED_PROMPT } from "./runtimes/scenario.mjs";
import { type RunningWorkerd, bundleWithWrangler, freePort, startWorkerd, writeWorkerdConfig } from "./runtimes/workerd.js";

const COMPAT_DATE = "2026-11-01";
/** Cloudflare's limit per isolate, wasm memory included. */
const WORKER_MEMORY_LIMIT = 128 * 1024 * 1024;

/** Reads a streamed body chunk by chunk (with a deadline), as a client of a streaming Worker would. */
async function readStream(res: Response, timeoutMs: number): Promise<{ text: string; chunks: number }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = "";
  let chunks = 0;
  const deadline = setTimeout(() => void reader.cancel(new Error("deadline")), timeoutMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks++;
      text += dec.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(deadline);
  }
  return { text: text + dec.decode(), chunks };
}

describe("workerd runs the packed package in a Worker", () => {
  let project: PackedProject;
  let running: RunningWorkerd | undefined;
  beforeAll(async () => {
    project = packedProject();
    await expectedTokens();
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  it("serves the scenario over HTTP: golden logits, both models' greedy tokens streamed", async () => {
    const dir = runDir(project, "workerd", FIXTURE);
    for (const f of ["fixture-worker.mjs", "wrangler.toml"]) cpSync(join(runtimesDir, "worker", f), join(dir, f));
    const bundle = bundleWithWrangler(dir);
    const port = await freePort();
    running = await startWorkerd(writeWorkerdConfig(bundle, "fixture-worker.js", port, COMPAT_DATE), port);
    const res = await fetch(`http://127.0.0.1:${port}/run`, { signal: AbortSignal.timeout(120_000) });
    expect(res.status).toBe(200);
    const { text } = await readStream(res, 120_000);
    const lines = text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as Record<string, unknown>);
    const error = lines.find((l) => "error" in l);
    if (error) throw new Error(`the Worker failed: ${String(error.error)}`);
    const { streamed, result } = tokensAndResult<ScenarioResult, StreamedToken>(lines);
    expect(result.backend.build).toBe("simd");
    await checkScenario(result, streamed);
  });

  it("runs examples/worker with the shipped model within 128 MB", async () => {
    const dir = join(project.dir, `example-worker-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    cpSync(join(repoRoot, "examples/worker"), dir, { recursive: true });
    const bundle = bundleWithWrangler(dir);
    const port = await freePort();
    running = await startWorkerd(writeWorkerdConfig(bundle, "index.js", port, COMPAT_DATE), port);
    const maxTokens = SHIPPED_NEW_TOKENS;
    const res = await fetch(`http://127.0.0.1:${port}/?prompt=${encodeURIComponent(SHIPPED_PROMPT)}&max_tokens=${maxTokens}`, {
      signal: AbortSignal.timeout(120_000),
    });
    expect(res.status).toBe(200);
    const { text, chunks } = await readStream(res, 120_000);
    // Greedy: the continuation the scenario checked.
    expect(text).toBe((await expectedTokens()).shippedText);
    // Streamed as it was generated, not buffered into one body.
    expect(chunks).toBeGreaterThan(1);
    // workerd's whole process (runtime, isolate, wasm memory) bounds the isolate's own memory from above.
    const peak = running.peakRssBytes();
    const readyMs = running.readyMs;
    await running.stop();
    running = undefined;
    // For the record: the same process serving an empty Worker, so the Worker's own share can be read off.
    const empty = join(dir, "empty");
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(empty, "empty.js"), 'export default { fetch: () => new Response("ok") };\n');
    const emptyPort = await freePort();
    running = await startWorkerd(writeWorkerdConfig(empty, "empty.js", emptyPort, COMPAT_DATE), emptyPort);
    await (await fetch(`http://127.0.0.1:${emptyPort}/`)).text();
    const baseline = running.peakRssBytes();
    mkdirSync(join(repoRoot, "test/artifacts"), { recursive: true });
    writeFileSync(join(repoRoot, "test/artifacts/workerd-example.json"), JSON.stringify({
      note: "examples/worker in workerd, one request generating " + maxTokens + " tokens; RSS is the whole workerd process",
      peakRssBytes: peak, emptyWorkerPeakRssBytes: baseline, workerShareBytes: peak - baseline,
      readyMs: Math.round(readyMs), emptyWorkerReadyMs: Math.round(running.readyMs), generatedBytes: text.length, chunks,
    }, null, 2));
    expect(peak).toBeLessThan(WORKER_MEMORY_LIMIT);
  });
});
