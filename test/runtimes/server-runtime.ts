/**
 * The shared body of the Node, Deno and Bun runtime tests: run host-server.mjs in the runtime against the installed
 * tarball and check what it returns; then run the runtime's example script.
 */
import { cpSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { FIXTURE, type ScenarioResult, type StreamedToken, checkScenario, defaultThreads, expectedTokens } from "./expected.js";
import { type PackedProject, packedProject, repoRoot, runDir } from "./packed-project.js";
import { runNdjson, tokensAndResult } from "./spawn.js";
import { SHIPPED_PROMPT } from "./scenario.mjs";

/** Tokens the example is asked for: fewer than the scenario's greedy chain, so that chain is the expected text. */
const EXAMPLE_TOKENS = 24;

export interface ServerRuntime {
  name: string;
  /** The command and its leading arguments; the script path is appended. */
  command: (script: string) => [string, string[]];
  /** The examples/ script this runtime runs as documented. */
  example: string;
}

export function describeServerRuntime(rt: ServerRuntime): void {
  describe(`${rt.name} runs the packed package`, () => {
    let project: PackedProject;
    beforeAll(async () => {
      project = packedProject();
      await expectedTokens();
    });

    it("matches the golden logits and streams both models' greedy tokens", async () => {
      const dir = runDir(project, rt.name, FIXTURE);
      const [cmd, args] = rt.command(join(dir, "host-server.mjs"));
      const { lines } = await runNdjson(cmd, args, { cwd: project.dir, timeoutMs: 120_000 });
      const { streamed, result } = tokensAndResult<ScenarioResult, StreamedToken>(lines);
      // The best build the engine validates: relaxed SIMD where it has it, else simd128; threaded, one thread a core.
      expect(result.backend.build).toBe(result.backend.relaxedSimdSupported ? "relaxed" : "simd");
      expect(result.backend.threadsSupported).toBe(true);
      expect(result.backend.threads).toBe(defaultThreads());
      await checkScenario(result, streamed);
    });

    it(`runs ${rt.example} with the shipped model`, async () => {
      const script = join(project.dir, `example-${rt.name}-${rt.example.split("/").pop()}`);
      cpSync(join(repoRoot, rt.example), script);
      const [cmd, args] = rt.command(script);
      const { stdout } = await runText(cmd, [...args, SHIPPED_PROMPT, String(EXAMPLE_TOKENS)], project.dir);
      // Greedy, byte-level: exactly the first bytes of the continuation the scenario checked.
      const want = await expectedTokens();
      expect(stdout).toBe(new TextDecoder().decode(Uint8Array.from(want.shippedTokens.slice(0, EXAMPLE_TOKENS))));
    });
  });
}

async function runText(cmd: string, args: string[], cwd: string): Promise<{ stdout: string }> {
  const { spawnSync } = await import("node:child_process");
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 120_000, killSignal: "SIGKILL" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${r.status ?? r.signal}\n${r.stderr}`);
  return { stdout: r.stdout };
}
