/** The browser fixture page (test/runtimes/browser/fixture.html) made ready to serve from a packed project. */
import { readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { expect } from "vitest";
import { FIXTURE, type ScenarioResult, type StreamedToken, checkScenario, defaultThreads } from "./expected.js";
import { type PackedProject, runDir, runtimesDir } from "./packed-project.js";

/** The installed package's "browser" entry, as a static server rooted at the project serves it. */
export function browserEntry(project: PackedProject): string {
  const exportsMap = JSON.parse(readFileSync(join(project.pkgDir, "package.json"), "utf8")).exports as Record<string, Record<string, string>>;
  return `/node_modules/tnn/${exportsMap["."]!.browser!.replace(/^\.\//, "")}`;
}

/** Writes the fixture page into a run directory of `project` for `runtime`; returns its path under the server's root. */
export function writeFixturePage(project: PackedProject, runtime: string): string {
  const dir = runDir(project, runtime, FIXTURE);
  const html = readFileSync(join(runtimesDir, "browser/fixture.html"), "utf8")
    .replaceAll("%TNN_PACKAGE%/%TNN_BROWSER_ENTRY%", browserEntry(project))
    .replaceAll("%TNN_PACKAGE%", "/node_modules/tnn");
  writeFileSync(join(dir, "fixture.html"), html);
  return `/${basename(dir)}/fixture.html`;
}

/** What the fixture page leaves in `window.tnnResult`. */
export interface FixtureResult {
  readonly result: ScenarioResult;
  readonly streamed: StreamedToken[];
  readonly domTokens: number[];
  readonly domText: string;
}

/**
 * Checks a fixture page's result: the best build the engine validates (relaxed SIMD where it has it, else simd128),
 * threaded (the page is cross-origin isolated), the scenario's golden logits and tokens, and the DOM showing them.
 */
export async function checkFixtureResult({ result, streamed, domTokens, domText }: FixtureResult): Promise<void> {
  expect(result.backend.build).toBe(result.backend.relaxedSimdSupported ? "relaxed" : "simd");
  expect(result.backend.threadsSupported).toBe(true);
  expect(result.backend.threads).toBe(defaultThreads());
  await checkScenario(result, streamed);
  expect(domTokens).toEqual(result.tokens);
  expect(domText).toBe(result.shippedText);
}
