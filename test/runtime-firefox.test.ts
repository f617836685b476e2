/**
 * Headless Firefox (SpiderMonkey, the one browser engine besides V8 and Bun's JavaScriptCore that tnn's runtimes
 * reach): the fixture page of test/runtime-chromium.test.ts, cross-origin isolated, so the threaded build with
 * the page's main thread spinning while the workers finish.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURE, type ScenarioResult, type StreamedToken, checkScenario, defaultThreads, expectedTokens } from "./runtimes/expected.js";
import { type FirefoxPage, launchFirefox } from "./runtimes/firefox.js";
import { type PackedProject, packedProject, runDir, runtimesDir } from "./runtimes/packed-project.js";
import { serveStatic } from "./runtimes/static-server.js";

describe("Firefox runs the packed package in a page", () => {
  let project: PackedProject;
  let server: Server;
  let origin: string;
  let page: FirefoxPage;
  let browserEntry: string;

  beforeAll(async () => {
    project = packedProject();
    await expectedTokens();
    const exportsMap = JSON.parse(readFileSync(join(project.pkgDir, "package.json"), "utf8")).exports as Record<string, Record<string, string>>;
    browserEntry = `/node_modules/tnn/${exportsMap["."]!.browser!.replace(/^\.\//, "")}`;
    ({ server, origin } = await serveStatic(project.dir, (path) => path.endsWith("/fixture.html")));
    page = await launchFirefox();
  });
  afterAll(async () => {
    await page?.close();
    await new Promise((r) => server?.close(r));
  });

  it("matches the golden logits and streams both models' greedy tokens into the DOM, on threads", async () => {
    const dir = runDir(project, "firefox", FIXTURE);
    const html = readFileSync(join(runtimesDir, "browser/fixture.html"), "utf8")
      .replaceAll("%TNN_PACKAGE%/%TNN_BROWSER_ENTRY%", browserEntry)
      .replaceAll("%TNN_PACKAGE%", "/node_modules/tnn");
    writeFileSync(join(dir, "fixture.html"), html);
    await page.goto(`${origin}/${basename(dir)}/fixture.html`);
    await page.waitFor(`"tnnResult" in window || "tnnError" in window`, 180_000);
    const error = await page.evaluate<string | undefined>("window.tnnError");
    if (error) throw new Error(`the page failed: ${error}\n${page.errors().join("\n")}`);
    const { result, streamed, domTokens, domText } = await page.evaluate<{
      result: ScenarioResult; streamed: StreamedToken[]; domTokens: number[]; domText: string;
    }>("window.tnnResult");
    expect(page.errors()).toEqual([]);
    expect(result.backend.build).toBe(result.backend.relaxedSimdSupported ? "relaxed" : "simd");
    expect(result.backend.threadsSupported).toBe(true);
    expect(result.backend.threads).toBe(defaultThreads());
    await checkScenario(result, streamed);
    expect(domTokens).toEqual(result.tokens);
    expect(domText).toBe(result.shippedText);
  });
});
