/**
 * A strict safetensors reader: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}`, then the data, offsets relative
 * to its start. Every claim the header makes is checked against the bytes before anything is read.
 * @module
 */
import { WeightsFormatError } from "../core/errors.js";

/** Element types safetensors defines, with their sizes in bytes. */
const DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
} as const;

/** A safetensors element type. */
export type SafetensorsDType = keyof typeof DTYPE_BYTES;

/** The largest header we accept (the reference implementation's limit): a bigger one is not a weights file. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor of a safetensors file. */
export interface SafetensorsTensor {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Its bytes, a view into the file (little-endian, C order). */
  readonly bytes: Uint8Array;
}

/** A parsed safetensors file. Tensors are views into the bytes it was parsed from. */
export class SafetensorsFile {
  /** `__metadata__`, string to string. */
  readonly metadata: Readonly<Record<string, string>>;
  readonly #tensors: ReadonlyMap<string, SafetensorsTensor>;

  /** @internal use {@link parseSafetensors} */
  constructor(tensors: ReadonlyMap<string, SafetensorsTensor>, metadata: Readonly<Record<string, string>>) {
    this.#tensors = tensors;
    this.metadata = metadata;
  }

  /** Tensor names in header order. */
  names(): string[] {
    return [...this.#tensors.keys()];
  }

  /** The tensor `name`, or undefined. */
  get(name: string): SafetensorsTensor | undefined {
    return this.#tensors.get(name);
  }

  /** Whether the file has a tensor `name`. */
  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  /** Number of tensors. */
  get size(): number {
    return this.#tensors.size;
  }
}

function fail(msg: string): never {
  throw new WeightsFormatError(`safetensors: ${msg}`);
}

/**
 * Parses safetensors bytes without copying the tensor data.
 * @throws {WeightsFormatError} the file is truncated or corrupt: a header length past the end or absurdly large,
 *   a header that is not a JSON object, unknown dtypes, bad shapes, offsets out of bounds, overlapping or leaving
 *   gaps, or a byte size that does not match the shape
 */
export function parseSafetensors(data: Uint8Array | ArrayBuffer): SafetensorsFile {
  const bytes = data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : fail("expected a Uint8Array or ArrayBuffer");
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const headerLen = hi * 2 ** 32 + lo;
  if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit; not a safetensors file`);
  if (8 + headerLen > bytes.length) fail(`header length ${headerLen} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    fail("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) fail("header must be a JSON object");
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info) || Object.values(info).some((v) => typeof v !== "string")) {
        fail("__metadata__ must be an object of strings");
      }
      metadata = { ...(info as Record<string, string>) };
      continue;
    }
    if (info === null || typeof info !== "object" || Array.isArray(info)) fail(`entry "${name}" must be an object`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, dtype)) fail(`tensor "${name}" has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      fail(`tensor "${name}" has an invalid shape ${JSON.stringify(shape)}; expected an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || offsets.some((o) => !Number.isSafeInteger(o) || o < 0) || offsets[0] > offsets[1]) {
      fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLen) fail(`tensor "${name}" data_offsets [${begin}, ${end}] run out of bounds of the ${dataLen}-byte data section`);
    let elements = 1;
    for (const d of shape as number[]) elements *= d;
    const want = elements * DTYPE_BYTES[dtype as SafetensorsDType];
    if (end - begin !== want) {
      fail(`tensor "${name}" is ${dtype} of shape [${(shape as number[]).join(", ")}] = ${want} bytes, but its data_offsets span ${end - begin}`);
    }
    entries.push({ name, dtype: dtype as SafetensorsDType, shape: shape as number[], begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin < at) fail(`tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap another tensor's bytes (which end at ${at})`);
    if (e.begin > at) fail(`bytes [${at}, ${e.begin}) of the data section belong to no tensor (before "${e.name}")`);
    at = e.end;
  }
  if (at !== dataLen) fail(`the data section is ${dataLen} bytes but the tensors cover only ${at}`);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, Object.freeze({
      name: e.name,
      dtype: e.dtype,
      shape: Object.freeze(e.shape),
      bytes: bytes.subarray(dataStart + e.begin, dataStart + e.end),
    }));
  }
  return new SafetensorsFile(tensors, Object.freeze(metadata));
}

/** Where weights can come from: bytes, a URL (or URL string), a fetch `Response`, or a file path (Node, Deno, Bun). */
export type WeightsSource = Uint8Array | ArrayBuffer | URL | Response | string;

/** Whether a string names a URL rather than a file path (a scheme of two or more letters, then `://`). */
export function isUrlString(s: string): boolean {
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(s);
}

/**
 * Reads the bytes of `source`.
 * @throws {WeightsFormatError} the URL answered with an error status or the file could not be read
 */
export async function readSourceBytes(source: WeightsSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (typeof Response !== "undefined" && source instanceof Response) {
    if (!source.ok) throw new WeightsFormatError(`could not read weights: the response has status ${source.status}`);
    return new Uint8Array(await source.arrayBuffer());
  }
  if (source instanceof URL || (typeof source === "string" && isUrlString(source))) {
    const url = source instanceof URL ? source : new URL(source);
    if (url.protocol === "file:") return readPath(url);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new WeightsFormatError(`could not fetch ${url.href}: ${(e as Error).message}`);
    }
    if (!res.ok) throw new WeightsFormatError(`could not fetch ${url.href}: status ${res.status}`);
    return new Uint8Array(await res.arrayBuffer());
  }
  if (typeof source === "string") return readPath(source);
  throw new WeightsFormatError("weights source must be a Uint8Array, ArrayBuffer, URL, Response or file path");
}

async function readPath(path: string | URL): Promise<Uint8Array> {
  const fs = await import("node:fs/promises");
  try {
    return await fs.readFile(path);
  } catch (e) {
    throw new WeightsFormatError(`could not read ${String(path)}: ${(e as Error).message}`);
  }
}

/**
 * Reads and parses a safetensors file from bytes, an ArrayBuffer, a URL, a `Response` or a file path.
 * @throws {WeightsFormatError} the source cannot be read or the file is not valid safetensors
 */
export async function readSafetensors(source: WeightsSource): Promise<SafetensorsFile> {
  return parseSafetensors(await readSourceBytes(source));
}
