/**
 * The worker pool of the threaded builds: workers that instantiate the kernel module on the same shared memory and
 * run the tasks of split kernels (GEMM rows, groups of channels) that the calling thread hands out.
 *
 * The scheduling is all in Rust (crates/tnn-wasm/src/pool.rs): a worker enters `pool_worker(slot)` and stays there,
 * spinning briefly and then sleeping in `memory.atomic.wait32`, until `pool_stop()`. This file only starts workers
 * and hands each the module and the memory. The worker script is a string with no imports, run by `node:worker_threads`
 * with `eval` (Node, Deno, Bun) or from a `blob:` URL as a Web Worker (browsers), so no runtime or bundler has to
 * resolve a file of ours: it instantiates the module itself, giving it the shared memory and stubs for
 * the glue's imports, which a worker never calls except to report a panic.
 *
 * Node, Deno, Bun: the workers are `unref()`ed, so a script whose work is done exits without `stopThreads()`.
 * @module
 */

/** What runs in each worker. Plain JavaScript that works as a Node eval script and as a classic or module worker. */
const WORKER_SOURCE = `
const port = typeof require === "function" ? require("node:worker_threads").parentPort : null;
const post = (m) => (port ? port.postMessage(m) : postMessage(m));
const start = ({ module, memory, slot }) => {
  let exports;
  let inPool = false;
  try {
    const text = (ptr, len) => new TextDecoder().decode(new Uint8Array(memory.buffer, ptr, len).slice());
    const imports = {};
    for (const i of WebAssembly.Module.imports(module)) {
      const m = (imports[i.module] ??= {});
      if (i.kind === "memory") m[i.name] = memory;
      else if (i.name.startsWith("__wbindgen_init_externref_table")) m[i.name] = () => {};
      else if (i.name.includes("wbindgen_throw")) m[i.name] = (ptr, len) => { throw new Error(text(ptr, len)); };
      else m[i.name] = () => { throw new Error("tnn pool worker: unexpected call to " + i.name); };
    }
    exports = new WebAssembly.Instance(module, imports).exports;
    exports.__wbindgen_start();
    post({ ready: slot });
    inPool = true;
    exports.pool_worker(slot);
    inPool = false;
    exports.__wbindgen_thread_destroy?.();
    post({ exited: slot });
  } catch (e) {
    // A task trapped: the caller waiting for it must hear, or it would wait forever.
    if (inPool) exports.pool_worker_failed();
    post({ error: String((e && e.stack) || e) });
  }
  if (port) port.close(); else close();
};
if (port) port.once("message", start); else onmessage = (e) => start(e.data);
`;

interface WorkerLike {
  postMessage(m: unknown): void;
  terminate(): unknown;
}

/** The pool's JS side: its workers, and how to stop them. */
export interface PoolWorkers {
  /** Workers that reported ready (the pool has this many threads plus the caller). */
  readonly workers: number;
  /** Asks the workers to leave (the Rust side's `pool_stop` must run first) and releases them. */
  close(): void;
}

type Runtime = "node" | "web";

function runtime(): Runtime | undefined {
  const g = globalThis as { process?: { versions?: { node?: string } }; Worker?: unknown };
  // Deno and Bun report a Node version too, and their node:worker_threads can unref a worker, which Deno's Web
  // Workers cannot (a Deno script with a pool of those never exits).
  if (g.process?.versions?.node) return "node";
  if (typeof g.Worker === "function") return "web";
  return undefined;
}

/**
 * Whether this realm can run the threaded builds: shared wasm memory, a way to start workers, and (in browsers) a
 * cross-origin isolated page. Never in Cloudflare Workers, which have no threads.
 */
export function threadsSupported(): boolean {
  const g = globalThis as { navigator?: { userAgent?: string }; crossOriginIsolated?: boolean };
  if (g.navigator?.userAgent === "Cloudflare-Workers") return false;
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics !== "object") return false;
  if (g.crossOriginIsolated === false) return false;
  if (!runtime()) return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor).buffer instanceof SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** Cores this machine offers, or undefined when the runtime does not say. */
export async function coreCount(): Promise<number | undefined> {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  if (typeof n === "number" && n > 0) return n;
  if (runtime() === "node") {
    // Node 20 has no navigator.
    try {
      const os = await import("node:os");
      return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Whether this thread may block in `Atomics.wait` (a browser's main thread may not). */
export function callerMayBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

interface Spawned {
  worker: WorkerLike;
  on(f: (m: Record<string, unknown>) => void): void;
  /** Called once the worker is up (or gave up). */
  started(): void;
}

async function spawn(): Promise<Spawned> {
  if (runtime() === "node") {
    const { Worker } = await import("node:worker_threads");
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    // A pool must never keep a finished script alive; but until the worker is up, init() is waiting on it.
    return { worker, on: (f) => worker.on("message", f), started: () => worker.unref() };
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
  try {
    // A module worker: Deno runs no other kind; browsers and Bun run this script as either.
    const worker = new Worker(url, { type: "module", name: "tnn-pool" });
    return { worker, on: (f) => worker.addEventListener("message", (e) => f((e as MessageEvent).data as Record<string, unknown>)), started: () => {} };
  } finally {
    // Revoked once the worker has fetched it: module workers load asynchronously.
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }
}

/**
 * Starts `count` workers on `module` and `memory` (slots 1..count; the caller is slot 0). Resolves once every worker
 * is inside `pool_worker` or has failed; `workers` says how many made it. Never rejects: a pool that could not start
 * leaves kernels single-threaded.
 */
export async function startWorkers(module: WebAssembly.Module, memory: WebAssembly.Memory, count: number, timeoutMs = 20_000): Promise<PoolWorkers> {
  const started: (WorkerLike | undefined)[] = new Array<WorkerLike | undefined>(count);
  const ready = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const slot = i + 1;
      try {
        const { worker, on, started: up } = await spawn();
        started[i] = worker;
        return await new Promise<boolean>((done) => {
          const resolve = (ok: boolean) => {
            up();
            done(ok);
          };
          const timer = setTimeout(() => resolve(false), timeoutMs);
          (timer as { unref?: () => void }).unref?.();
          on((m) => {
            if (m.ready === slot) {
              clearTimeout(timer);
              resolve(true);
            } else if ("error" in m) {
              clearTimeout(timer);
              resolve(false);
            }
          });
          worker.postMessage({ module, memory, slot });
        });
      } catch {
        return false;
      }
    }),
  );
  const workers = ready.filter(Boolean).length;
  return {
    workers,
    close() {
      // pool_stop has sent the ready workers out of pool_worker, and they close themselves after freeing their
      // stacks; the others are terminated.
      started.forEach((w, i) => {
        if (w && !ready[i]) void w.terminate();
      });
      started.fill(undefined);
    },
  };
}
