/**
 * Headless Chromium: a page loads the packed package through the "browser" entry of its exports map, streams tokens
 * into the DOM, and the test saves a screenshot to test/artifacts/.
 */
import { cpSync, mkdirSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FixtureResult, browserEntry, checkFixtureResult, writeFixturePage } from "./runtimes/browser-fixture.js";
import { launchChromium } from "./runtimes/chromium.js";
import { expectedTokens } from "./runtimes/expected.js";
import { type PackedProject, packedProject, repoRoot } from "./runtimes/packed-project.js";
import { SHIPPED_PROMPT } from "./runtimes/scenario.mjs";
import { serveStatic } from "./runtimes/static-server.js";

const ARTIFACTS = join(repoRoot, "test/artifacts");

describe("Chromium runs the packed package in a page", () => {
  let project: PackedProject;
  let server: Server;
  let origin: string;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  /** The installed package's "browser" entry, as the server serves it. */
  let entry: string;

  beforeAll(async () => {
    project = packedProject();
    await expectedTokens();
    entry = browserEntry(project);
    // The fixture page is cross-origin isolated, so it runs the threaded build (the page's main thread hands work to
    // the workers and spins while they finish); the example page is not, and runs single-threaded.
    ({ server, origin } = await serveStatic(project.dir, (path) => path.endsWith("/fixture.html")));
    browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
  });

  it("matches the golden logits and streams both models' greedy tokens into the DOM", async () => {
    const fixture = writeFixturePage(project, "chromium");
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(String(e)));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()}`));
    await page.goto(`${origin}${fixture}`, { timeout: 60_000 });
    await page.waitForFunction(() => "tnnResult" in window || "tnnError" in window, undefined, { timeout: 120_000 });
    await page.screenshot({ path: join(ARTIFACTS, "chromium-fixture.png"), fullPage: true });
    const error = await page.evaluate(() => (window as unknown as { tnnError?: string }).tnnError);
    if (error) throw new Error(`the page failed: ${error}\n${problems.join("\n")}`);
    const fixtureResult = await page.evaluate(() => (window as unknown as { tnnResult: FixtureResult }).tnnResult);
    expect(problems).toEqual([]);
    await checkFixtureResult(fixtureResult);
    await page.close();
  });

  it("runs examples/browser/index.html with the shipped model", async () => {
    const example = readFileSync(join(repoRoot, "examples/browser/index.html"), "utf8");
    // The example hard-codes the browser entry for users without a bundler; it must be the one the package exports.
    expect(example).toContain(`"tnn": ".${entry}"`);
    cpSync(join(repoRoot, "examples/browser/index.html"), join(project.dir, "example.html"));
    const page = await browser.context.newPage();
    const problems: string[] = [];
    // An uncaught error in the page fails the test at once instead of at the timeout.
    const failed = new Promise<never>((_, reject) => page.on("pageerror", (e) => {
      problems.push(String(e));
      reject(new Error(`the example page failed: ${e.stack ?? String(e)}`));
    }));
    await page.goto(`${origin}/example.html`, { timeout: 60_000 });
    await Promise.race([page.waitForSelector("body[data-done=true]", { timeout: 120_000 }), failed]);
    await page.screenshot({ path: join(ARTIFACTS, "chromium-example.png"), fullPage: true });
    const text = await page.textContent("#out");
    expect(problems).toEqual([]);
    // Greedy, from the same prompt: it starts with the continuation the scenario checked.
    expect(text!.startsWith(SHIPPED_PROMPT + (await expectedTokens()).shippedText)).toBe(true);

    // Generate pressed twice in a row: the second press must replace the first run, not interleave with it. The
    // paragraph must equal what one uninterrupted press gives (greedy, so the same text every time).
    await page.fill("#prompt", "And God said");
    await page.click("button");
    await Promise.race([page.waitForSelector("body[data-done=true]", { timeout: 120_000 }), failed]);
    const once = await page.textContent("#out");
    expect(once!.startsWith("And God said")).toBe(true);
    expect(once!.length).toBeGreaterThan("And God said".length + 100);
    // Both presses in one task, so the first run has certainly not finished when the second starts.
    await page.evaluate(() => {
      const button = document.querySelector("button")!;
      button.click();
      button.click();
    });
    await Promise.race([page.waitForSelector("body[data-done=true]", { timeout: 120_000 }), failed]);
    // Any run still writing would show up after the done flag: give it the time of many steps, then read.
    await page.waitForTimeout(500);
    expect(await page.textContent("#out")).toBe(once);
    expect(problems).toEqual([]);
    await page.close();
  });
});
