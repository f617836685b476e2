/**
 * A strict safetensors reader: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}`, then the data, offsets relative
 * to its start. Every claim the header makes is checked against the bytes before anything is read.
 * @module
 */
import { WeightsFormatError } from "../core/errors.js";
import { FloatLiteral, type StrictJson, parseStrictJson } from "./strict-json.js";
import { ChunkReader, type WeightsSource, openByteStream, readSourceBytes } from "./weights-source.js";

/** Element types safetensors defines, with their sizes in bytes. */
const DTYPE_BYTES = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
} as const;

/** A safetensors element type. */
export type SafetensorsDType = keyof typeof DTYPE_BYTES;

/** The largest header we accept (the reference implementation's limit): a bigger one is not a weights file. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor of a safetensors header: where its bytes lie in the data section. */
export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  /** Byte range `[begin, end)` in the data section (after the header). */
  readonly begin: number;
  readonly end: number;
}

/** One tensor of a safetensors file. */
export interface SafetensorsTensor extends SafetensorsTensorInfo {
  /** Its bytes, a view into the file (little-endian, C order). */
  readonly bytes: Uint8Array;
}

/** A parsed safetensors header: the tensors' names, dtypes, shapes and byte ranges, before any data is read. */
export class SafetensorsHeader<T extends SafetensorsTensorInfo = SafetensorsTensorInfo> {
  /** `__metadata__`, string to string. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Bytes of the data section the tensors tile exactly. */
  readonly dataBytes: number;
  readonly #tensors: ReadonlyMap<string, T>;

  /** @internal use {@link parseSafetensorsHeader} or {@link parseSafetensors} */
  constructor(tensors: ReadonlyMap<string, T>, metadata: Readonly<Record<string, string>>, dataBytes: number) {
    this.#tensors = tensors;
    this.metadata = metadata;
    this.dataBytes = dataBytes;
  }

  /** Tensor names in header order. */
  names(): string[] {
    return [...this.#tensors.keys()];
  }

  /** The tensor `name`, or undefined. */
  get(name: string): T | undefined {
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

  /** The tensors in data order (by `begin`). */
  inDataOrder(): T[] {
    return [...this.#tensors.values()].sort((a, b) => a.begin - b.begin);
  }
}

/** A parsed safetensors file. Tensors are views into the bytes it was parsed from. */
export class SafetensorsFile extends SafetensorsHeader<SafetensorsTensor> {}

function fail(msg: string): never {
  throw new WeightsFormatError(`safetensors: ${msg}`);
}

/**
 * The header length that the first 8 bytes of a safetensors file give.
 * @throws {WeightsFormatError} absurdly large (not a safetensors file)
 */
export function safetensorsHeaderLength(first8: Uint8Array): number {
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const headerLen = dv.getUint32(4, true) * 2 ** 32 + dv.getUint32(0, true);
  if (headerLen > MAX_HEADER_BYTES) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit; not a safetensors file`);
  return headerLen;
}

/**
 * Parses the JSON header (the bytes after the 8-byte length). The tensors must tile the data section
 * `[0, dataBytes)` exactly; whether the file really has that many bytes is for the caller to check.
 * @throws {WeightsFormatError} a header that is not a JSON object, unknown dtypes, bad shapes, offsets that overlap
 *   or leave gaps, or a byte size that does not match the shape
 */
export function parseSafetensorsHeader(json: Uint8Array): SafetensorsHeader {
  const { entries, metadata, dataBytes } = parseHeaderEntries(json);
  return new SafetensorsHeader(new Map(entries.map((e) => [e.name, Object.freeze(e)])), metadata, dataBytes);
}

function parseHeaderEntries(json: Uint8Array): { entries: SafetensorsTensorInfo[]; metadata: Readonly<Record<string, string>>; dataBytes: number } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(json);
  } catch {
    fail("header is not valid UTF-8");
  }
  // As the reference reader: the JSON object starts the header (no byte-order mark, no leading space).
  if (!text.startsWith("{")) fail(`header must start with "{", got ${JSON.stringify(text.slice(0, 8))}`);
  let header: StrictJson;
  try {
    header = parseStrictJson(text);
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header) || header instanceof FloatLiteral) fail("header must be a JSON object");
  let metadata: Record<string, string> = {};
  const entries: SafetensorsTensorInfo[] = [];
  const isIndex = (d: StrictJson): d is number => typeof d === "number" && Number.isSafeInteger(d) && d >= 0;
  for (const [name, info] of Object.entries(header as Record<string, StrictJson>)) {
    if (name === "__metadata__") {
      if (info === null || typeof info !== "object" || Array.isArray(info) || info instanceof FloatLiteral || Object.values(info).some((v) => typeof v !== "string")) {
        fail("__metadata__ must be an object of strings");
      }
      metadata = { ...(info as Record<string, string>) };
      continue;
    }
    if (info === null || typeof info !== "object" || Array.isArray(info) || info instanceof FloatLiteral) fail(`entry "${name}" must be an object`);
    const { dtype, shape, data_offsets: offsets } = info as Record<string, StrictJson>;
    if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, dtype)) fail(`tensor "${name}" has unknown dtype ${show(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isIndex)) {
      fail(`tensor "${name}" has an invalid shape ${show(shape)}; expected an array of non-negative integers`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex) || offsets[0]! > offsets[1]!) {
      fail(`tensor "${name}" has invalid data_offsets ${show(offsets)}; expected [begin, end], integers with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = offsets as [number, number];
    let elements = 1;
    for (const d of shape as number[]) elements *= d;
    const want = elements * DTYPE_BYTES[dtype as SafetensorsDType];
    if (!Number.isSafeInteger(want)) fail(`tensor "${name}" of shape [${(shape as number[]).join(", ")}] is too large to address`);
    if (end - begin !== want) {
      fail(`tensor "${name}" is ${dtype} of shape [${(shape as number[]).join(", ")}] = ${want} bytes, but its data_offsets span ${end - begin}`);
    }
    entries.push({ name, dtype: dtype as SafetensorsDType, shape: Object.freeze([...(shape as number[])]), begin, end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of sorted) {
    if (e.begin < at) fail(`tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap another tensor's bytes (which end at ${at})`);
    if (e.begin > at) fail(`bytes [${at}, ${e.begin}) of the data section belong to no tensor (before "${e.name}")`);
    at = e.end;
  }
  return { entries, metadata: Object.freeze(metadata), dataBytes: at };
}

/** A header value for a message: floats as written, the rest as JSON. */
function show(v: StrictJson | undefined): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof FloatLiteral ? `${x.value} (not an integer literal)` : x)) ?? "undefined";
}

/**
 * Reads the 8-byte length and the header from the front of a stream, leaving the reader at the data section.
 * @throws {WeightsFormatError} as {@link parseSafetensorsHeader}, or the stream ends inside the header
 */
export async function readSafetensorsHeader(reader: ChunkReader): Promise<SafetensorsHeader> {
  const first8 = await reader.take(8);
  if (first8.length < 8) fail(`file is ${first8.length} bytes, too short for the 8-byte header length`);
  const headerLen = safetensorsHeaderLength(first8);
  const json = await reader.take(headerLen);
  if (json.length < headerLen) fail(`header length ${headerLen} runs past the end of the ${8 + json.length}-byte file (truncated?)`);
  return parseSafetensorsHeader(json);
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
  const headerLen = safetensorsHeaderLength(bytes);
  if (8 + headerLen > bytes.length) fail(`header length ${headerLen} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  const { entries, metadata, dataBytes } = parseHeaderEntries(bytes.subarray(8, 8 + headerLen));
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  for (const e of entries) {
    if (e.end > dataLen) fail(`tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] run out of bounds of the ${dataLen}-byte data section`);
  }
  if (dataBytes !== dataLen) fail(`the data section is ${dataLen} bytes but the tensors cover only ${dataBytes}`);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, Object.freeze({ ...e, bytes: bytes.subarray(dataStart + e.begin, dataStart + e.end) }));
  }
  return new SafetensorsFile(tensors, metadata, dataBytes);
}

/**
 * Reads just the header of a safetensors file from any {@link WeightsSource}: names, dtypes, shapes and offsets,
 * without reading (or, for streams, downloading) the tensor data.
 * @throws {WeightsFormatError} the source cannot be read or the header is not valid
 */
export async function readSafetensorsHeaderOf(source: WeightsSource): Promise<SafetensorsHeader> {
  const reader = new ChunkReader(await openByteStream(source));
  try {
    return await readSafetensorsHeader(reader);
  } finally {
    await reader.close();
  }
}

/**
 * Reads and parses a safetensors file from any {@link WeightsSource}, whole (see `loadModel` for streaming).
 * @throws {WeightsFormatError} the source cannot be read or the file is not valid safetensors
 */
export async function readSafetensors(source: WeightsSource): Promise<SafetensorsFile> {
  return parseSafetensors(await readSourceBytes(source));
}
