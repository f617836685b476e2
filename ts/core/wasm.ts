/**
 * Loading the wasm kernels. One module instance serves the whole realm (process, worker or page).
 *
 * Five builds of the same crate ship with the package: `relaxed` (simd128 plus relaxed SIMD, whose
 * `f32x4.relaxed_madd` is a fused multiply-add on FMA hardware), `simd` (simd128), `scalar`, and the threaded forms
 * `relaxed-threads` and `simd-threads` (shared memory and atomics, with a worker pool: see pool.ts). `init()` takes
 * the best one the engine validates a probe of (`WebAssembly.validate`) and the realm can run, unless told
 * otherwise. All builds export the same functions; one wasm-bindgen glue, the threaded builds' (a superset that also
 * accepts a memory), drives any of them.
 * @module
 */
import initBindings, * as bindings from "../../pkg/simd-threads/tnn.js";
import { InvalidOptionError, WasmLoadError } from "./errors.js";
import { setMemoryBudget } from "./memory.js";
import { type PoolWorkers, callerMayBlock, coreCount, startWorkers, threadsSupported } from "./pool.js";

export { threadsSupported } from "./pool.js";

/** Where the wasm bytes come from. A Cloudflare Worker must pass the `WebAssembly.Module` its import gives. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string | Response | Promise<Response>;

/** The kernel builds' instruction sets, best first. */
export type Build = "relaxed" | "simd" | "scalar";
const BUILDS: readonly Build[] = ["relaxed", "simd", "scalar"];
/** The module files: each build, and the threaded forms of the two SIMD builds. */
export type ModuleKey = Build | "relaxed-threads" | "simd-threads";
const MODULE_KEYS: readonly ModuleKey[] = ["relaxed-threads", "simd-threads", "relaxed", "simd", "scalar"];

/** The default cap on threads: GEMMs of the paper's sizes stop scaling well past it, and each thread holds scratch. */
export const DEFAULT_MAX_THREADS = 8;
/** The most threads `init({ threads })` accepts. */
export const MAX_THREADS = 64;

/** Options of {@link init}. */
export interface InitOptions {
  /**
   * The module to run, or one per module file (`relaxed-threads`, `simd-threads`, `relaxed`, `simd`, `scalar`).
   * Without it the package finds its own `.wasm` next to its code (read from disk in Node, Deno and Bun; fetched
   * elsewhere). A single module runs as whatever build it is; with one per file, the best one the engine and the
   * options allow among those given is taken.
   */
  wasm?: WasmSource | Partial<Record<ModuleKey, WasmSource>>;
  /** `true` requires a simd128 build, `false` takes the scalar build; `"auto"` (default) probes the engine. */
  simd?: boolean | "auto";
  /**
   * `true` requires the relaxed-SIMD build (fused multiply-add; results may differ from the simd build in the last
   * bits), `false` never takes it; `"auto"` (default) takes it where the engine validates relaxed SIMD.
   */
  relaxedSimd?: boolean | "auto";
  /**
   * Threads the kernels may use, the calling thread included: `1` runs the single-threaded module; `n > 1` runs a
   * threaded module with `n − 1` workers (it throws where threads cannot run); `"auto"` (default) uses the core
   * count, at most {@link DEFAULT_MAX_THREADS}, where threads can run (Node, Deno, Bun, cross-origin isolated pages;
   * never Cloudflare Workers) and 1 elsewhere. Results are the same bits whatever the count.
   */
  threads?: number | "auto";
  /**
   * Bytes of wasm memory tnn may hold (default: 118 MiB in a Cloudflare Worker, whose 128 MB hold the JS heap too;
   * 4 GiB elsewhere); a call whose need would exceed it throws `OutOfMemoryError` before allocating. The same as
   * `setMemoryBudget`.
   */
  memoryBudget?: number;
}

/** What {@link init} loaded. */
export interface BackendInfo {
  /** Which instruction set runs. */
  readonly build: Build;
  /** Threads the kernels use, the calling thread included (1: the single-threaded module, or no workers). */
  readonly threads: number;
  /** Whether this engine can run simd128 at all. */
  readonly simdSupported: boolean;
  /** Whether this engine can run relaxed SIMD. */
  readonly relaxedSimdSupported: boolean;
  /** Whether this realm can run the threaded builds. */
  readonly threadsSupported: boolean;
}

/** The raw exports of the kernel module (functions taking pointers), for ts/core's own use. */
export type KernelExports = typeof bindings;

interface Backend {
  build: Build;
  threads: number;
  readonly simdSupported: boolean;
  readonly relaxedSimdSupported: boolean;
  readonly threadsSupported: boolean;
  readonly memory: WebAssembly.Memory;
  pool?: PoolWorkers;
}

let backend: Backend | undefined;
let pending: Promise<BackendInfo> | undefined;

// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)): valid only where simd128 is.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);
// (module (func (result v128) i32.const 0 i8x16.splat i32.const 0 i8x16.splat i32.const 0 i8x16.splat
//   f32x4.relaxed_madd)): valid only where relaxed SIMD is (the instruction the relaxed build is for).
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15,
  65, 0, 253, 15, 253, 133, 2, 11,
]);

function validates(probe: Uint8Array<ArrayBuffer>): boolean {
  try {
    return WebAssembly.validate(probe);
  } catch {
    return false;
  }
}

/** Whether this engine validates simd128 code. */
export function simdSupported(): boolean {
  return validates(SIMD_PROBE);
}

/** Whether this engine validates relaxed-SIMD code (V8 12+: Node 22+, Chrome 114+, Deno, workerd; Node 20 only with a flag). */
export function relaxedSimdSupported(): boolean {
  return simdSupported() && validates(RELAXED_PROBE);
}

function defaultWasmUrl(key: ModuleKey): URL {
  // The package build rewrites these URLs to the .wasm files it ships beside the bundle.
  switch (key) {
    case "relaxed-threads":
      return new URL("../../pkg/relaxed-threads/tnn_bg.wasm", import.meta.url);
    case "simd-threads":
      return new URL("../../pkg/simd-threads/tnn_bg.wasm", import.meta.url);
    case "relaxed":
      return new URL("../../pkg/relaxed/tnn_bg.wasm", import.meta.url);
    case "simd":
      return new URL("../../pkg/simd/tnn_bg.wasm", import.meta.url);
    case "scalar":
      return new URL("../../pkg/scalar/tnn_bg.wasm", import.meta.url);
  }
}

/** The module behind a source: compiled here, so that a threaded one can also go to the workers. */
async function compile(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source as BufferSource);
  if (typeof source !== "string" && !(source instanceof URL)) {
    const res = await source;
    if (!res.ok) throw new Error(`${res.url || "the response"}: status ${res.status}`);
    return WebAssembly.compile(await res.arrayBuffer());
  }
  const url = source instanceof URL ? source : new URL(source, typeof location !== "undefined" ? location.href : undefined);
  if (url.protocol === "file:") {
    // fetch() cannot read file: URLs in Node; every server-side runtime we support has node:fs.
    const fs = await import("node:fs/promises");
    return WebAssembly.compile(await fs.readFile(url));
  }
  return compile(fetch(url));
}

type PerModule = Partial<Record<ModuleKey, WasmSource>>;

/** The per-module object form of `wasm`, or undefined for a single source. */
function perModule(wasm: InitOptions["wasm"]): PerModule | undefined {
  if (wasm === undefined || typeof wasm !== "object") return undefined;
  if (wasm instanceof WebAssembly.Module || wasm instanceof URL || wasm instanceof ArrayBuffer || ArrayBuffer.isView(wasm) ||
      wasm instanceof Promise || (typeof Response !== "undefined" && wasm instanceof Response)) return undefined;
  for (const k of Object.keys(wasm)) {
    if (!(MODULE_KEYS as readonly string[]).includes(k)) throw new InvalidOptionError(`init: unknown key wasm.${k}; expected ${MODULE_KEYS.join(", ")}`);
  }
  return wasm as PerModule;
}

const TRISTATE = (v: unknown): boolean => v === "auto" || typeof v === "boolean";

/**
 * Loads the kernels (and, for a threaded build, starts its workers). Call once before anything else; later calls
 * return the same backend. Concurrent calls share one load.
 * @throws {InvalidOptionError} bad options, or a build or thread count forced that this realm cannot run
 * @throws {WasmLoadError} the module could not be fetched, compiled or instantiated
 */
export function init(options: InitOptions = {}): Promise<BackendInfo> {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("init: options must be an object");
  for (const k of Object.keys(options)) {
    if (!["wasm", "simd", "relaxedSimd", "threads", "memoryBudget"].includes(k)) {
      throw new InvalidOptionError(`init: unknown option "${k}"; expected wasm, simd, relaxedSimd, threads, memoryBudget`);
    }
  }
  if (options.memoryBudget !== undefined) setMemoryBudget(options.memoryBudget);
  const simd = options.simd ?? "auto";
  const relaxed = options.relaxedSimd ?? "auto";
  const threads = options.threads ?? "auto";
  if (!TRISTATE(simd)) throw new InvalidOptionError(`init: simd must be true, false or "auto", got ${String(simd)}`);
  if (!TRISTATE(relaxed)) throw new InvalidOptionError(`init: relaxedSimd must be true, false or "auto", got ${String(relaxed)}`);
  if (simd === false && relaxed === true) throw new InvalidOptionError("init: relaxedSimd: true needs simd; got simd: false");
  if (threads !== "auto" && !(Number.isSafeInteger(threads) && threads >= 1 && threads <= MAX_THREADS)) {
    throw new InvalidOptionError(`init: threads must be "auto" or an integer in [1, ${MAX_THREADS}], got ${String(threads)}`);
  }
  const given = perModule(options.wasm);
  if (backend) {
    const b = backend.build;
    if ((simd !== "auto" && simd !== (b !== "scalar")) || (relaxed !== "auto" && relaxed !== (b === "relaxed"))) {
      throw new InvalidOptionError(`init: the ${b} build is already loaded in this realm`);
    }
    if (threads !== "auto" && threads !== backend.threads) {
      throw new InvalidOptionError(`init: ${backend.threads} thread(s) already run in this realm; threads cannot change after init`);
    }
    return Promise.resolve(info(backend));
  }
  if (pending) return pending;
  pending = load(options, simd, relaxed, threads, given).finally(() => (pending = undefined));
  return pending;
}

/** The builds the options allow on this engine, best first. */
function candidates(simd: boolean | "auto", relaxed: boolean | "auto"): Build[] {
  const haveSimd = simdSupported();
  const haveRelaxed = relaxedSimdSupported();
  if (simd === true && !haveSimd) throw new InvalidOptionError("init: simd was forced but this engine does not support simd128");
  if (relaxed === true && !haveRelaxed) throw new InvalidOptionError("init: relaxedSimd was forced but this engine does not support relaxed SIMD");
  return BUILDS.filter((b) => {
    if (b === "relaxed") return haveRelaxed && simd !== false && relaxed !== false;
    if (b === "simd") return haveSimd && simd !== false && relaxed !== true;
    return simd !== true && relaxed !== true;
  });
}

/** The build a module says it is (its exported feature bits). */
function buildOf(features: number): Build {
  return features & 2 ? "relaxed" : features & 1 ? "simd" : "scalar";
}

/** Whether a module is a threaded build: it imports its (shared) memory. */
function isThreaded(module: WebAssembly.Module): boolean {
  return WebAssembly.Module.imports(module).some((i) => i.kind === "memory");
}

async function load(options: InitOptions, simd: boolean | "auto", relaxed: boolean | "auto", threads: number | "auto", given: PerModule | undefined): Promise<BackendInfo> {
  const builds = candidates(simd, relaxed);
  const canThread = threadsSupported();
  if (typeof threads === "number" && threads > 1 && !canThread) {
    throw new InvalidOptionError(`init: threads: ${threads} needs shared wasm memory and workers, which this realm does not offer (cross-origin isolation in browsers; never Cloudflare Workers)`);
  }
  const count = threads === "auto" ? (canThread ? Math.min((await coreCount()) ?? 1, DEFAULT_MAX_THREADS) : 1) : threads;
  // Module files in order of preference: threaded forms first when more than one thread is wanted.
  const keys: ModuleKey[] = builds.flatMap((b): ModuleKey[] => (count > 1 && b !== "scalar" ? [`${b}-threads` as ModuleKey, b] : [b]));
  // A single module runs as whatever build it is; one per file: the best allowed one given; else our own files.
  const key = given ? (keys.find((k) => given[k] !== undefined) ?? keys[0]!) : keys[0]!;
  const source = options.wasm === undefined ? undefined : given ? given[key] : (options.wasm as WasmSource);
  let exports: { memory: WebAssembly.Memory };
  let module: WebAssembly.Module;
  let threaded: boolean;
  try {
    module = await compile(source ?? defaultWasmUrl(key));
    threaded = isThreaded(module);
    // A module without a memory import brings its own; the glue would otherwise make a shared one for it.
    const memory = threaded ? undefined : new WebAssembly.Memory({ initial: 0 });
    exports = (await initBindings({ module_or_path: module, memory } as never)) as unknown as { memory: WebAssembly.Memory };
  } catch (e) {
    throw new WasmLoadError(`init: could not load the ${source && !given ? "given" : key} wasm module: ${(e as Error).message}`);
  }
  const b: Backend = {
    build: buildOf(bindings.build_features()),
    threads: 1,
    simdSupported: simdSupported(),
    relaxedSimdSupported: relaxedSimdSupported(),
    threadsSupported: canThread,
    memory: exports.memory,
  };
  if (threaded && count > 1 && canThread) {
    const pool = await startWorkers(module, exports.memory, count - 1);
    if (pool.workers > 0) {
      bindings.pool_start(count - 1, callerMayBlock());
      b.pool = pool;
      b.threads = 1 + pool.workers;
    } else {
      pool.close();
    }
  }
  backend = b;
  return info(backend);
}

/**
 * Stops the worker pool: kernels run on the calling thread from then on (same results). Node scripts exit without
 * it (the workers do not keep the process alive); call it to release the threads early. Does nothing without a pool.
 */
export function stopThreads(): void {
  if (!backend?.pool) return;
  bindings.pool_stop();
  backend.pool.close();
  backend.pool = undefined;
  backend.threads = 1;
}

function info(b: Backend): BackendInfo {
  // The pool's own count: a pool abandoned after a task trapped on a worker runs kernels on one thread.
  const threads = b.pool ? Math.min(b.threads, bindings.pool_threads()) : 1;
  return { build: b.build, threads, simdSupported: b.simdSupported, relaxedSimdSupported: b.relaxedSimdSupported, threadsSupported: b.threadsSupported };
}

/** The loaded backend's info, or undefined before {@link init}. */
export function backendInfo(): BackendInfo | undefined {
  return backend && info(backend);
}

/** The kernel exports; throws when {@link init} has not completed. */
export function kernels(): KernelExports {
  if (!backend) throw new WasmLoadError("tnn is not initialised: await init() first");
  return bindings;
}

/** The current linear memory buffer. Never keep it across a kernel call: memory growth detaches it. */
export function memoryBuffer(): ArrayBuffer {
  if (!backend) throw new WasmLoadError("tnn is not initialised: await init() first");
  return backend.memory.buffer as ArrayBuffer;
}

/** Bytes of linear memory currently reserved by the module (it only grows). */
export function memoryBytes(): number {
  return backend ? backend.memory.buffer.byteLength : 0;
}
