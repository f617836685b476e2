/**
 * Runs a Worker the way Cloudflare does, offline: wrangler bundles it (`deploy --dry-run`, which resolves "tnn"
 * through the `workerd` export condition and turns .wasm imports into module imports), then workerd serves the
 * bundle on 127.0.0.1 from a generated config. Wrangler 4 needs Node 22.12 or later: it runs under the Node 22 from
 * devDependencies, whatever Node runs the tests.
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { repoRoot } from "./packed-project.js";

const WORKERD = join(repoRoot, "node_modules/workerd/bin/workerd");
const WRANGLER = join(repoRoot, "node_modules/wrangler/bin/wrangler.js");
const NODE22 = join(repoRoot, "node_modules/node22/bin/node");

/**
 * Bundles the Worker in `dir` (which holds wrangler.toml) into `dir/bundle`; returns that folder and what wrangler
 * printed (its warnings included).
 */
export function bundleWithWrangler(dir: string): string {
  return bundleWithWranglerOutput(dir).out;
}

export function bundleWithWranglerOutput(dir: string): { out: string; log: string } {
  const out = join(dir, "bundle");
  const r = spawnSync(NODE22, [WRANGLER, "deploy", "--dry-run", "--outdir", out], {
    cwd: dir,
    encoding: "utf8",
    timeout: 120_000,
    killSignal: "SIGKILL",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1", WRANGLER_LOG_PATH: join(dir, "wrangler-logs") },
  });
  if (r.status !== 0) throw new Error(`wrangler failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return { out, log: r.stdout + r.stderr };
}

function moduleKind(file: string): string | undefined {
  if (/\.m?js$/.test(file)) return "esModule";
  if (file.endsWith(".wasm")) return "wasm";
  if (/\.(bin|safetensors)$/.test(file)) return "data";
  if (file.endsWith(".txt")) return "text";
  if (file.endsWith(".json")) return "json";
  return undefined;
}

/**
 * An HTTP server outside workerd (`host:port`), bound in the Worker as a service named `binding`. Outside, so that
 * what it buffers does not count in workerd's memory, as R2 or an origin would not.
 */
export interface ExternalBinding {
  binding: string;
  address: string;
}

/**
 * Writes a workerd config serving the bundle in `bundle` (main module first) on 127.0.0.1:`port`, with each of
 * `externals` as a service binding.
 */
export function writeWorkerdConfig(bundle: string, main: string, port: number, compatibilityDate: string, externals: ExternalBinding[] = []): string {
  const others = readdirSync(bundle).filter((f) => f !== main && moduleKind(f) !== undefined && !f.endsWith(".map"));
  const modules = [main, ...others].map((f) => `(name = ${JSON.stringify(f)}, ${moduleKind(f)} = embed ${JSON.stringify(f)})`);
  const services = externals.map((x, i) => `, (name = "external${i}", external = (address = ${JSON.stringify(x.address)}, http = ()))`).join("");
  const bindings = externals.map((x, i) => `(name = ${JSON.stringify(x.binding)}, service = "external${i}")`).join(", ");
  const path = join(bundle, "workerd.capnp");
  writeFileSync(path, `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)${services}],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
    ${modules.join(",\n    ")}
  ],
  compatibilityDate = "${compatibilityDate}",
  bindings = [${bindings}],
);
`);
  return path;
}

/** A free loopback port (the kernel's pick, released just before workerd binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RunningWorkerd {
  port: number;
  pid: number;
  /** Peak resident memory of the workerd process so far (VmHWM), in bytes: runtime, isolate and wasm together. */
  peakRssBytes(): number;
  /** Milliseconds from spawn until the socket accepted a request. */
  readyMs: number;
  stop(): Promise<void>;
}

/**
 * Starts workerd on `config` and waits (at most `timeoutMs`) until it answers HTTP on the port; with
 * `inspectorPort`, the DevTools inspector listens there.
 */
export async function startWorkerd(config: string, port: number, timeoutMs = 30_000, inspectorPort?: number): Promise<RunningWorkerd> {
  const t0 = performance.now();
  const args = ["serve", config, ...(inspectorPort === undefined ? [] : ["-i", `127.0.0.1:${inspectorPort}`])];
  const child = spawn(WORKERD, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  let exited = false;
  const gone = new Promise<void>((r) => child.on("exit", () => {
    exited = true;
    r();
  }));
  const stop = async () => {
    if (!exited) {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch { /* already gone */ }
    }
    await gone;
  };
  while (true) {
    if (exited) throw new Error(`workerd exited before serving:\n${stderr}`);
    if (performance.now() - t0 > timeoutMs) {
      await stop();
      throw new Error(`workerd did not answer on 127.0.0.1:${port} within ${timeoutMs} ms:\n${stderr}`);
    }
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`, { method: "HEAD", signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const readyMs = performance.now() - t0;
  return {
    port,
    pid: child.pid!,
    readyMs,
    peakRssBytes: () => {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      return m ? Number(m[1]) * 1024 : NaN;
    },
    stop,
  };
}
