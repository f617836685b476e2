/**
 * Loading the wasm kernels. One module instance serves the whole realm (process, worker or page).
 *
 * Three builds of the same crate ship with the package: `relaxed` (simd128 plus relaxed SIMD, whose
 * `f32x4.relaxed_madd` is a fused multiply-add on FMA hardware), `simd` (simd128) and `scalar`. `init()` takes the
 * best one the engine validates a probe of (`WebAssembly.validate`), unless told otherwise. All builds export the
 * same functions, so one wasm-bindgen glue drives any of them.
 * @module
 */
import initBindings, * as bindings from "../../pkg/simd/tnn.js";
import { InvalidOptionError, WasmLoadError } from "./errors.js";
import { setMemoryBudget } from "./memory.js";

/** Where the wasm bytes come from. A Cloudflare Worker must pass the `WebAssembly.Module` its import gives. */
export type WasmSource = WebAssembly.Module | ArrayBuffer | ArrayBufferView | URL | string | Response | Promise<Response>;

/** The kernel builds, best first. */
export type Build = "relaxed" | "simd" | "scalar";
const BUILDS: readonly Build[] = ["relaxed", "simd", "scalar"];

/** Options of {@link init}. */
export interface InitOptions {
  /**
   * The module to run, or one per build. Without it the package finds its own `.wasm` next to its code
   * (read from disk in Node, Deno and Bun; fetched elsewhere). A single module runs whatever build it is; with one
   * per build, the best build the engine supports among those given is taken.
   */
  wasm?: WasmSource | { relaxed?: WasmSource; simd?: WasmSource; scalar?: WasmSource };
  /** `true` requires a simd128 build, `false` takes the scalar build; `"auto"` (default) probes the engine. */
  simd?: boolean | "auto";
  /**
   * `true` requires the relaxed-SIMD build (fused multiply-add; results may differ from the simd build in the last
   * bits), `false` never takes it; `"auto"` (default) takes it where the engine validates relaxed SIMD.
   */
  relaxedSimd?: boolean | "auto";
  /**
   * Bytes of wasm memory tnn may hold (default: 128 MiB in a Cloudflare Worker, 4 GiB elsewhere); a call whose need
   * would exceed it throws `OutOfMemoryError` before allocating. The same as `setMemoryBudget`.
   */
  memoryBudget?: number;
}

/** What {@link init} loaded. */
export interface BackendInfo {
  /** Which build runs. */
  readonly build: Build;
  /** Whether this engine can run simd128 at all. */
  readonly simdSupported: boolean;
  /** Whether this engine can run relaxed SIMD. */
  readonly relaxedSimdSupported: boolean;
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

function defaultWasmUrl(build: Build): URL {
  // The package build rewrites these URLs to the .wasm files it ships beside the bundle.
  switch (build) {
    case "relaxed":
      return new URL("../../pkg/relaxed/tnn_bg.wasm", import.meta.url);
    case "simd":
      return new URL("../../pkg/simd/tnn_bg.wasm", import.meta.url);
    case "scalar":
      return new URL("../../pkg/scalar/tnn_bg.wasm", import.meta.url);
  }
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

type PerBuild = Partial<Record<Build, WasmSource>>;

/** The per-build object form of `wasm`, or undefined for a single source. */
function perBuild(wasm: InitOptions["wasm"]): PerBuild | undefined {
  if (wasm === undefined || typeof wasm !== "object") return undefined;
  if (wasm instanceof WebAssembly.Module || wasm instanceof URL || wasm instanceof ArrayBuffer || ArrayBuffer.isView(wasm) ||
      wasm instanceof Promise || (typeof Response !== "undefined" && wasm instanceof Response)) return undefined;
  for (const k of Object.keys(wasm)) {
    if (!(BUILDS as readonly string[]).includes(k)) throw new InvalidOptionError(`init: unknown key wasm.${k}; expected ${BUILDS.join(", ")}`);
  }
  return wasm as PerBuild;
}

const TRISTATE = (v: unknown): boolean => v === "auto" || typeof v === "boolean";

/**
 * Loads the kernels. Call once before anything else; later calls return the same backend. Concurrent calls share
 * one load.
 * @throws {InvalidOptionError} bad options, or a build forced that this engine cannot run
 * @throws {WasmLoadError} the module could not be fetched, compiled or instantiated
 */
export function init(options: InitOptions = {}): Promise<BackendInfo> {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("init: options must be an object");
  for (const k of Object.keys(options)) {
    if (!["wasm", "simd", "relaxedSimd", "memoryBudget"].includes(k)) {
      throw new InvalidOptionError(`init: unknown option "${k}"; expected wasm, simd, relaxedSimd, memoryBudget`);
    }
  }
  if (options.memoryBudget !== undefined) setMemoryBudget(options.memoryBudget);
  const simd = options.simd ?? "auto";
  const relaxed = options.relaxedSimd ?? "auto";
  if (!TRISTATE(simd)) throw new InvalidOptionError(`init: simd must be true, false or "auto", got ${String(simd)}`);
  if (!TRISTATE(relaxed)) throw new InvalidOptionError(`init: relaxedSimd must be true, false or "auto", got ${String(relaxed)}`);
  if (simd === false && relaxed === true) throw new InvalidOptionError("init: relaxedSimd: true needs simd; got simd: false");
  const perBuildWasm = perBuild(options.wasm);
  if (backend) {
    const b = backend.build;
    if ((simd !== "auto" && simd !== (b !== "scalar")) || (relaxed !== "auto" && relaxed !== (b === "relaxed"))) {
      throw new InvalidOptionError(`init: the ${b} build is already loaded in this realm`);
    }
    return Promise.resolve(info(backend));
  }
  if (pending) return pending;
  pending = load(options, simd, relaxed, perBuildWasm).finally(() => (pending = undefined));
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

async function load(options: InitOptions, simd: boolean | "auto", relaxed: boolean | "auto", given: PerBuild | undefined): Promise<BackendInfo> {
  const allowed = candidates(simd, relaxed);
  // A single module runs as whatever build it is; one per build: the best allowed one given; else our own files.
  const build = given ? (allowed.find((b) => given[b] !== undefined) ?? allowed[0]!) : allowed[0]!;
  const source = options.wasm === undefined ? undefined : given ? given[build] : (options.wasm as WasmSource);
  let exports: { memory: WebAssembly.Memory };
  try {
    const src = await resolveSource(source ?? defaultWasmUrl(build));
    exports = (await initBindings({ module_or_path: src as never })) as unknown as { memory: WebAssembly.Memory };
  } catch (e) {
    throw new WasmLoadError(`init: could not load the ${source && !given ? "given" : build} wasm module: ${(e as Error).message}`);
  }
  const loaded = buildOf(bindings.build_features());
  backend = { build: loaded, simdSupported: simdSupported(), relaxedSimdSupported: relaxedSimdSupported(), memory: exports.memory };
  return info(backend);
}

function info(b: Backend): BackendInfo {
  return { build: b.build, simdSupported: b.simdSupported, relaxedSimdSupported: b.relaxedSimdSupported };
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
