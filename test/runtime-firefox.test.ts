/**
 * Headless Firefox (SpiderMonkey, the one browser engine besides V8 and Bun's JavaScriptCore that tnn's runtimes
 * reach): the fixture page of test/runtime-chromium.test.ts, cross-origin isolated, so the threaded build with
 * the page's main thread spinning while the workers finish.
 */
import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FixtureResult, checkFixtureResult, writeFixturePage } from "./runtimes/browser-fixture.js";
import { expectedTokens } from "./runtimes/expected.js";
import { type FirefoxPage, launchFirefox } from "./runtimes/firefox.js";
import { type PackedProject, packedProject } from "./runtimes/packed-project.js";
import { serveStatic } from "./runtimes/static-server.js";

describe("Firefox runs the packed package in a page", () => {
  let project: PackedProject;
  let server: Server;
  let origin: string;
  let page: FirefoxPage;

  beforeAll(async () => {
    project = packedProject();
    await expectedTokens();
    ({ server, origin } = await serveStatic(project.dir, (path) => path.endsWith("/fixture.html")));
    page = await launchFirefox();
  });
  afterAll(async () => {
    await page?.close();
    await new Promise((r) => server?.close(r));
  });

  it("matches the golden logits and streams both models' greedy tokens into the DOM, on threads", async () => {
    await page.goto(`${origin}${writeFixturePage(project, "firefox")}`);
    await page.waitFor(`"tnnResult" in window || "tnnError" in window`, 180_000);
    const error = await page.evaluate<string | undefined>("window.tnnError");
    if (error) throw new Error(`the page failed: ${error}\n${page.errors().join("\n")}`);
    const fixtureResult = await page.evaluate<FixtureResult>("window.tnnResult");
    expect(page.errors()).toEqual([]);
    await checkFixtureResult(fixtureResult);
  });
});
