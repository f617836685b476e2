/**
 * Loading the wasm kernels. One module instance serves the whole realm (process, worker or page).
 *
 * Two builds of the same crate ship with the package: `simd` (simd128) and `scalar`. `init()` picks simd when the
 * engine validates a simd128 probe, unless told otherwise.
 * @module
 */
import initBindings, * as bindings from "../../pkg/simd/tnn.js";
import { InvalidOptionError, WasmLoadError } from "./errors.js";
import { setMemoryBudget } from "./memory.js";

/** Where the wasm bytes come from. A Cloudflare Worker must pass the `WebAssembly.Module` its import gives. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string | Response | Promise<Response>;

/** Options of {@link init}. */
export interface InitOptions {
  /**
   * The module to run, or one per build. Without it the package finds its own `.wasm` next to its code
   * (read from disk in Node, Deno and Bun; fetched elsewhere).
   */
  wasm?: WasmSource | { simd?: WasmSource; scalar?: WasmSource };
  /** `true` forces the simd128 build, `false` the scalar build; `"auto"` (default) probes the engine. */
  simd?: boolean | "auto";
  /**
   * Bytes of wasm memory tnn may hold (default: 128 MiB in a Cloudflare Worker, 4 GiB elsewhere); a call whose need
   * would exceed it throws `OutOfMemoryError` before allocating. The same as `setMemoryBudget`.
   */
  memoryBudget?: number;
}

/** What {@link init} loaded. */
export interface BackendInfo {
  /** Which build runs. */
  readonly build: "simd" | "scalar";
  /** Whether this engine can run simd128 at all. */
  readonly simdSupported: boolean;
}

/** The raw exports of the kernel module (functions taking pointers), for ts/core's own use. */
export type KernelExports = typeof bindings;

interface Backend extends BackendInfo {
  readonly memory: WebAssembly.Memory;
}

let backend: Backend | undefined;
let pending: Promise<BackendInfo> | undefined;

// (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt)): valid only where simd128 is.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** Whether this engine validates simd128 code. */
export function simdSupported(): boolean {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

function defaultWasmUrl(build: "simd" | "scalar"): URL {
  // The package build rewrites these two URLs to the .wasm files it ships beside the bundle.
  return build === "simd"
    ? new URL("../../pkg/simd/tnn_bg.wasm", import.meta.url)
    : new URL("../../pkg/scalar/tnn_bg.wasm", import.meta.url);
}

async function resolveSource(source: WasmSource): Promise<WebAssembly.Module | BufferSource | Response> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return source;
  if (typeof source !== "string" && !(source instanceof URL)) return source; // a Response, or a promise of one
  const url = source instanceof URL ? source : new URL(source, typeof location !== "undefined" ? location.href : undefined);
  if (url.protocol === "file:") {
    // fetch() cannot read file: URLs in Node; every server-side runtime we support has node:fs.
    const fs = await import("node:fs/promises");
    return fs.readFile(url);
  }
  return fetch(url);
}

function pickSource(wasm: InitOptions["wasm"], build: "simd" | "scalar"): WasmSource | undefined {
  if (wasm === undefined) return undefined;
  if (typeof wasm === "object" && !(wasm instanceof WebAssembly.Module) && !(wasm instanceof URL) &&
      !(wasm instanceof ArrayBuffer) && !ArrayBuffer.isView(wasm) && !(wasm instanceof Promise) &&
      !(typeof Response !== "undefined" && wasm instanceof Response)) {
    const perBuild = wasm as { simd?: WasmSource; scalar?: WasmSource };
    for (const k of Object.keys(perBuild)) {
      if (k !== "simd" && k !== "scalar") throw new InvalidOptionError(`init: unknown key wasm.${k}; expected "simd" or "scalar"`);
    }
    return perBuild[build];
  }
  return wasm as WasmSource;
}

/**
 * Loads the kernels. Call once before anything else; later calls return the same backend. Concurrent calls share
 * one load.
 * @throws {InvalidOptionError} bad options, or simd forced on an engine without simd128
 * @throws {WasmLoadError} the module could not be fetched, compiled or instantiated
 */
export function init(options: InitOptions = {}): Promise<BackendInfo> {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("init: options must be an object");
  for (const k of Object.keys(options)) {
    if (k !== "wasm" && k !== "simd" && k !== "memoryBudget") throw new InvalidOptionError(`init: unknown option "${k}"; expected wasm, simd, memoryBudget`);
  }
  if (options.memoryBudget !== undefined) setMemoryBudget(options.memoryBudget);
  const want = options.simd ?? "auto";
  if (want !== "auto" && typeof want !== "boolean") throw new InvalidOptionError(`init: simd must be true, false or "auto", got ${String(want)}`);
  if (backend) {
    if (want !== "auto" && want !== (backend.build === "simd")) {
      throw new InvalidOptionError(`init: the ${backend.build} build is already loaded in this realm`);
    }
    return Promise.resolve(info(backend));
  }
  if (pending) return pending;
  pending = load(options, want).finally(() => (pending = undefined));
  return pending;
}

async function load(options: InitOptions, want: boolean | "auto"): Promise<BackendInfo> {
  const supported = simdSupported();
  if (want === true && !supported) throw new InvalidOptionError("init: simd was forced but this engine does not support simd128");
  const build = want === "auto" ? (supported ? "simd" : "scalar") : want ? "simd" : "scalar";
  let exports: { memory: WebAssembly.Memory };
  try {
    const src = await resolveSource(pickSource(options.wasm, build) ?? defaultWasmUrl(build));
    exports = (await initBindings({ module_or_path: src as never })) as unknown as { memory: WebAssembly.Memory };
  } catch (e) {
    throw new WasmLoadError(`init: could not load the ${build} wasm module: ${(e as Error).message}`);
  }
  backend = { build, simdSupported: supported, memory: exports.memory };
  return info(backend);
}

function info(b: Backend): BackendInfo {
  return { build: b.build, simdSupported: b.simdSupported };
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
