/**
 * Headless Debian Firefox ESR driven over WebDriver BiDi with Node's own WebSocket (never a downloaded browser):
 * playwright-core's BiDi route sends commands this Firefox does not have, and its own Firefox route needs its patched
 * build. A fresh profile each launch; close() always ends the browser.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const FIREFOX = process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr";

export interface FirefoxPage {
  /** Loads `url` and waits for its load event. */
  goto(url: string): Promise<void>;
  /** Evaluates `expression` in the page (awaiting a promise) and returns its value, which must be JSON-like. */
  evaluate<T>(expression: string): Promise<T>;
  /** Polls `expression` until it is truthy, or throws after `timeoutMs`. */
  waitFor(expression: string, timeoutMs: number): Promise<void>;
  /** Uncaught errors the page has thrown so far (WebDriver BiDi's `log.entryAdded` of type javascript). */
  errors(): string[];
  /** Ends the session and the browser, and removes the profile. */
  close(): Promise<void>;
}

type Pending = { resolve(v: unknown): void; reject(e: Error): void };

/** Starts Firefox on a blank page and returns that page. */
export async function launchFirefox(): Promise<FirefoxPage> {
  const profile = mkdtempSync(join(tmpdir(), "tnn-firefox-"));
  const proc: ChildProcess = spawn(FIREFOX, ["--headless", "--no-remote", "--remote-debugging-port=0", "--profile", profile], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const end = () => {
    proc.kill("SIGKILL");
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      let log = "";
      const timer = setTimeout(() => reject(new Error(`Firefox did not open WebDriver BiDi within 60 s:\n${log}`)), 60_000);
      proc.stderr!.on("data", (d: Buffer) => {
        log += String(d);
        const m = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(log);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      proc.on("error", (e) => reject(new Error(`cannot start ${FIREFOX}: ${e.message}`)));
      proc.on("exit", (code) => reject(new Error(`Firefox exited (${code}) before WebDriver BiDi was up:\n${log}`)));
    });
    const ws = new WebSocket(`${endpoint}/session`);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`cannot connect to ${endpoint}/session`));
    });
    let next = 0;
    const pending = new Map<number, Pending>();
    const errors: string[] = [];
    ws.onmessage = (e) => {
      const m = JSON.parse(String(e.data)) as {
        id?: number; type: string; method?: string; params?: { type?: string; text?: string }; result?: unknown; error?: string; message?: string;
      };
      if (m.method === "log.entryAdded" && m.params?.type === "javascript") errors.push(m.params.text ?? "(no text)");
      const p = m.id === undefined ? undefined : pending.get(m.id);
      if (!p) return;
      pending.delete(m.id!);
      if (m.type === "error") p.reject(new Error(`WebDriver BiDi: ${m.error}: ${m.message}`));
      else p.resolve(m.result);
    };
    // A browser that dies fails what waits on it at once, not at the test's timeout.
    ws.onclose = () => {
      for (const p of pending.values()) p.reject(new Error("Firefox closed the WebDriver BiDi connection"));
      pending.clear();
    };
    const send = <T>(method: string, params: object) => new Promise<T>((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
    await send("session.new", { capabilities: {} });
    await send("session.subscribe", { events: ["log.entryAdded"] });
    const tree = await send<{ contexts: { context: string }[] }>("browsingContext.getTree", {});
    const context = tree.contexts[0]!.context;
    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = await send<{ type: string; result?: { value?: unknown }; exceptionDetails?: { text: string } }>("script.evaluate", {
        expression: `(async () => JSON.stringify(await (${expression})))()`, target: { context }, awaitPromise: true,
      });
      if (r.type === "exception") throw new Error(`in the page: ${r.exceptionDetails!.text}`);
      const v = r.result?.value;
      return (typeof v === "string" ? JSON.parse(v) : undefined) as T;
    };
    return {
      goto: async (url) => void (await send("browsingContext.navigate", { context, url, wait: "complete" })),
      evaluate,
      errors: () => [...errors],
      async waitFor(expression, timeoutMs) {
        const until = Date.now() + timeoutMs;
        while (!(await evaluate<boolean>(`!!(${expression})`))) {
          if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expression}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      },
      async close() {
        await send("session.end", {}).catch(() => undefined);
        ws.close();
        end();
      },
    };
  } catch (e) {
    end();
    throw e;
  }
}
