/**
 * Moving a safetensors data section into wasm memory as it arrives, tensor by tensor, each in the dtype the model
 * will keep it in. Nothing holds the whole file in JS, and no tensor exists twice in wasm except for the one being
 * converted, so loading peaks at about the model's own size.
 * @module
 */
import { WeightsFormatError } from "../core/errors.js";
import { bf16ToF32, f16ToF32, f32ToF16, widenInto } from "../core/ops.js";
import { type Matrix, QuantizedMatrix } from "../core/quantized-matrix.js";
import { Tensor } from "../core/tensor.js";
import { type SafetensorsHeader, type SafetensorsTensorInfo } from "./safetensors.js";

/** What the model keeps a tensor as in wasm memory (int8: a {@link QuantizedMatrix}). */
export type StagedDType = "float32" | "float16" | "int8";

/** Bytes of file data gathered before a block of rows is quantized. */
const QUANT_BLOCK_BYTES = 1 << 20;

/** Where a member of a packed group goes: the group's float32 tensor of `groupSize` floats, from `offset`. */
export interface PackedSlot {
  readonly group: string;
  readonly offset: number;
  readonly groupSize: number;
}

/**
 * Per tensor name: its storage dtype in wasm, a slot in a packed group (small parameters a layer reads as one
 * buffer, gathered in JS until they are complete so they never leave holes between the weights), or undefined to
 * skip its bytes.
 */
export type StagingTarget = (name: string) => StagedDType | PackedSlot | undefined;

type Staged = Matrix;

/** A matrix being quantized as it arrives: rows gather in `block` (file dtype), widen into `wide`, then quantize. */
interface Quantizing {
  readonly out: QuantizedMatrix;
  readonly block: Tensor<"float32" | "float16">;
  /** Float32 rows for the quantizer (the block itself for F32 files). */
  readonly wide: Tensor<"float32">;
  readonly rowBytes: number;
  /** F32, F16 or BF16: how to widen the block. */
  readonly fileDType: string;
  /** The tensor's name, for messages. */
  readonly name: string;
  /** First matrix row held in the block. */
  row0: number;
}

/** The tensor being received. */
interface Current {
  readonly info: SafetensorsTensorInfo;
  readonly target: StagedDType | PackedSlot | undefined;
  /** The bytes of a packed group's member. */
  host: Uint8Array | undefined;
  /** Bytes of it received so far. */
  got: number;
  /** Raw bytes as stored in the file: float32 for F32, the 16-bit patterns of F16 and BF16 in a float16 tensor. */
  raw: Tensor<"float32" | "float16"> | undefined;
  /** A tensor already staged with the same bytes so far (a tied pair): compared against instead of stored. */
  twin: Tensor<"float32" | "float16"> | undefined;
  /** An int8 target. */
  quant: Quantizing | undefined;
}

/** Tensors staged in wasm, by name, and packed groups, by group; the caller takes them over one by one. */
export class StagedWeights {
  readonly #tensors = new Map<string, Staged>();
  readonly #groups = new Map<string, Tensor<"float32">>();

  /** @internal */
  put(name: string, t: Staged): void {
    this.#tensors.set(name, t);
  }

  /** @internal Writes one member's floats into its group, allocating the group with its first member. */
  putPacked(slot: PackedSlot, values: Float32Array): void {
    let g = this.#groups.get(slot.group);
    if (!g) {
      g = Tensor.empty("float32", [slot.groupSize]);
      this.#groups.set(slot.group, g);
    }
    g.data.set(values, slot.offset);
  }

  /** Hands the packed group `group` over to the caller, who must dispose it. */
  takeGroup(group: string): Tensor<"float32"> {
    const g = this.#groups.get(group);
    if (!g) throw new WeightsFormatError(`internal: packed group "${group}" was not staged`);
    this.#groups.delete(group);
    return g;
  }

  /** The staged tensor `name` (still owned here), or undefined. */
  peek(name: string): Staged | undefined {
    return this.#tensors.get(name);
  }

  /** Hands `name` over to the caller, who must dispose it. */
  take(name: string): Staged {
    const t = this.#tensors.get(name);
    if (!t) throw new WeightsFormatError(`internal: tensor "${name}" was not staged`);
    this.#tensors.delete(name);
    return t;
  }

  /** Frees whatever was not taken. */
  dispose(): void {
    for (const t of [...this.#tensors.values(), ...this.#groups.values()]) t.dispose();
    this.#tensors.clear();
    this.#groups.clear();
  }
}

const RAW_DTYPE: Partial<Record<string, "float32" | "float16">> = { F32: "float32", F16: "float16", BF16: "float16" };

/**
 * Receives the data section of a file with a checked `header`, in order and in chunks of any size. Tensors whose
 * name `target` maps to undefined are skipped; the rest must be F32, F16 or BF16. `ties` lists pairs of names that
 * are often the same tensor stored twice (a tied output projection): when the second arrives with the same dtype,
 * shape and bytes as the first, it is not stored again.
 */
export class WeightStager {
  readonly #order: SafetensorsTensorInfo[];
  readonly #target: StagingTarget;
  readonly #twinOf = new Map<string, string>();
  readonly #staged = new StagedWeights();
  #next = 0;
  #current: Current | undefined;
  #received = 0;
  readonly #expected: number;

  constructor(header: SafetensorsHeader, target: StagingTarget, ties: readonly (readonly [string, string])[] = []) {
    this.#order = header.inDataOrder();
    this.#target = target;
    this.#expected = header.dataBytes;
    for (const [a, b] of ties) {
      this.#twinOf.set(a, b);
      this.#twinOf.set(b, a);
    }
  }

  /**
   * Consumes the next bytes of the data section (the chunk is not kept).
   * @throws {WeightsFormatError} more bytes than the header describes
   * @throws {OutOfMemoryError} wasm memory cannot hold the next tensor
   */
  write(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      const cur = this.#current ?? this.#begin();
      if (!cur) {
        throw new WeightsFormatError(`safetensors: the data section is longer than the ${this.#expected} bytes its header describes`);
      }
      const size = cur.info.end - cur.info.begin;
      const n = Math.min(size - cur.got, chunk.length - at);
      this.#receive(cur, chunk.subarray(at, at + n));
      cur.got += n;
      at += n;
      this.#received += n;
      if (cur.got === size) this.#complete(cur);
    }
  }

  /**
   * Ends the data section and returns the staged tensors.
   * @throws {WeightsFormatError} the data ended before the header's last tensor
   */
  finish(): StagedWeights {
    // Trailing zero-byte tensors never see a write.
    if (!this.#current) this.#begin();
    if (this.#received < this.#expected) {
      const name = this.#current?.info.name;
      throw new WeightsFormatError(
        `safetensors: the data ended after ${this.#received} of ${this.#expected} bytes, in tensor "${name}" (truncated file?)`,
      );
    }
    return this.#staged;
  }

  /** Frees everything staged so far; the stager cannot be used afterwards. */
  dispose(): void {
    this.#current?.raw?.dispose();
    const q = this.#current?.quant;
    if (q) {
      q.out.dispose();
      disposeBlock(q);
    }
    this.#current = undefined;
    this.#staged.dispose();
    this.#next = this.#order.length;
  }

  /** Starts the next tensor with bytes (zero-byte ones are completed on the way); undefined after the last. */
  #begin(): Current | undefined {
    for (let info = this.#order[this.#next]; info; info = this.#order[this.#next]) {
      this.#next++;
      const target = this.#target(info.name);
      const cur: Current = { info, target, host: undefined, got: 0, raw: undefined, twin: undefined, quant: undefined };
      if (target !== undefined) {
        const raw = RAW_DTYPE[info.dtype];
        if (!raw) throw new WeightsFormatError(`safetensors: tensor "${info.name}" is ${info.dtype}; expected F32, F16 or BF16`);
        if (typeof target === "object") cur.host = new Uint8Array(info.end - info.begin);
        else if (target === "int8") cur.quant = quantizing(info, raw);
        else cur.twin = this.#twinFor(info, target);
        if (!cur.twin && !cur.host && !cur.quant) cur.raw = Tensor.empty(raw, info.shape);
      }
      this.#current = cur;
      if (info.end > info.begin) return cur;
      this.#complete(cur);
    }
    return undefined;
  }

  /** A staged twin that holds this tensor's file bytes unconverted, so chunks can be compared byte for byte. */
  #twinFor(info: SafetensorsTensorInfo, target: "float32" | "float16"): Tensor<"float32" | "float16"> | undefined {
    const other = this.#twinOf.get(info.name);
    if (!other) return undefined;
    const t = this.#staged.peek(other);
    const o = this.#order.find((e) => e.name === other);
    if (!(t instanceof Tensor) || !o || o.dtype !== info.dtype || t.dtype !== target || RAW_DTYPE[info.dtype] !== target || info.dtype === "BF16") return undefined;
    if (o.shape.length !== info.shape.length || o.shape.some((d, i) => d !== info.shape[i])) return undefined;
    return t;
  }

  #receive(cur: Current, bytes: Uint8Array): void {
    if (cur.target === undefined) return;
    if (cur.host) {
      cur.host.set(bytes, cur.got);
      return;
    }
    if (cur.quant) {
      receiveQuantized(cur.quant, bytes, cur.got);
      return;
    }
    if (cur.twin) {
      const d = cur.twin.data;
      const mine = new Uint8Array(d.buffer, d.byteOffset + cur.got, bytes.length);
      if (equalBytes(mine, bytes)) return;
      // Not a copy after all: store it, starting with the prefix that did match.
      const raw = Tensor.empty(cur.twin.dtype, cur.info.shape);
      cur.raw = raw;
      const t = cur.twin.data;
      const r = raw.data;
      new Uint8Array(r.buffer, r.byteOffset, cur.got).set(new Uint8Array(t.buffer, t.byteOffset, cur.got));
      cur.twin = undefined;
    }
    // A fresh view per chunk: an allocation since the last one may have grown (and detached) the memory.
    const r = cur.raw!.data;
    new Uint8Array(r.buffer, r.byteOffset + cur.got, bytes.length).set(bytes);
  }

  #complete(cur: Current): void {
    this.#current = undefined;
    const { info, target } = cur;
    if (target === undefined) return;
    if (typeof target === "object") {
      const values = floatsOf(cur.host!, info.dtype);
      const bad = values.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw nonFinite(info.name, bad, values[bad]!);
      this.#staged.putPacked(target, values);
      return;
    }
    if (cur.quant) {
      const q = cur.quant;
      cur.quant = undefined;
      try {
        flushQuantized(q, (info.end - info.begin) / q.rowBytes - q.row0);
      } catch (e) {
        q.out.dispose();
        throw e;
      } finally {
        disposeBlock(q);
      }
      this.#staged.put(info.name, q.out);
      return;
    }
    if (cur.twin) {
      this.#staged.put(info.name, cur.twin.reshape(cur.twin.dims));
      return;
    }
    const raw = cur.raw!;
    cur.raw = undefined;
    let out: Staged;
    try {
      checkFinite(info.name, raw, info.dtype);
      out = convert(raw, info.dtype, target as "float32" | "float16");
    } catch (e) {
      raw.dispose();
      throw e;
    }
    if (out !== raw) raw.dispose();
    this.#staged.put(info.name, out);
  }
}

function quantizing(info: SafetensorsTensorInfo, raw: "float32" | "float16"): Quantizing {
  if (info.shape.length !== 2) throw new WeightsFormatError(`safetensors: tensor "${info.name}" must be 2-D to be stored as int8`);
  const [rows, cols] = info.shape as [number, number];
  const rowBytes = cols * (raw === "float32" ? 4 : 2);
  const blockRows = Math.max(1, Math.min(rows, Math.floor(QUANT_BLOCK_BYTES / Math.max(rowBytes, 1))));
  const made: { dispose(): void }[] = [];
  try {
    const out = QuantizedMatrix.empty([rows, cols]);
    made.push(out);
    const block = Tensor.empty(raw, [blockRows, cols]);
    made.push(block);
    const wide = raw === "float32" ? (block as Tensor<"float32">) : Tensor.empty("float32", [blockRows, cols]);
    return { out, block, wide, rowBytes, fileDType: info.dtype, name: info.name, row0: 0 };
  } catch (e) {
    for (const m of made) m.dispose();
    throw e;
  }
}

/** Copies the bytes at offset `got` of the matrix into its block, quantizing each block as it fills. */
function receiveQuantized(q: Quantizing, bytes: Uint8Array, got: number): void {
  const blockBytes = q.block.dims[0]! * q.rowBytes;
  let at = 0;
  while (at < bytes.length) {
    const inBlock = got + at - q.row0 * q.rowBytes;
    const n = Math.min(blockBytes - inBlock, bytes.length - at);
    const d = q.block.data;
    new Uint8Array(d.buffer, d.byteOffset + inBlock, n).set(bytes.subarray(at, at + n));
    at += n;
    if (inBlock + n === blockBytes) {
      flushQuantized(q, q.block.dims[0]!);
      q.row0 += q.block.dims[0]!;
    }
  }
}

/** Widens the first `rows` rows of the block and quantizes them into the matrix at `row0`. */
function flushQuantized(q: Quantizing, rows: number): void {
  if (rows <= 0) return;
  const cols = q.block.dims[1]!;
  if (q.fileDType !== "F32") {
    widenInto(q.block as Tensor<"float16">, q.fileDType === "BF16" ? "bf16" : "f16", q.wide, rows * cols);
  }
  const bad = q.wide.data.subarray(0, rows * cols).findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw nonFinite(q.name, q.row0 * cols + bad, q.wide.data[bad]!);
  q.out.quantizeRows(q.wide, q.row0, rows);
}

/**
 * NaN and infinite weights are refused at load, in every storage dtype: a model with them can only produce NaN
 * logits, and the int8 quantizer has no code for them.
 */
function nonFinite(name: string, index: number, value: number): WeightsFormatError {
  return new WeightsFormatError(`safetensors: tensor "${name}" holds ${value} at element ${index}; weights must be finite numbers`);
}

/** Throws {@link nonFinite} at the first NaN or infinity of a staged raw tensor (file dtype F32, F16 or BF16). */
function checkFinite(name: string, raw: Tensor<"float32" | "float16">, fileDType: string): void {
  const d = raw.data;
  if (fileDType === "F32") {
    const bits = new Uint32Array(d.buffer, d.byteOffset, d.length);
    for (let i = 0; i < bits.length; i++) if ((bits[i]! & 0x7f800000) === 0x7f800000) throw nonFinite(name, i, (d as Float32Array)[i]!);
    return;
  }
  const exp = fileDType === "BF16" ? 0x7f80 : 0x7c00;
  const h = d as Uint16Array;
  for (let i = 0; i < h.length; i++) {
    if ((h[i]! & exp) === exp) throw nonFinite(name, i, (h[i]! & (exp === 0x7f80 ? 0x7f : 0x3ff)) !== 0 ? NaN : h[i]! & 0x8000 ? -Infinity : Infinity);
  }
}

function disposeBlock(q: Quantizing): void {
  if (q.wide !== q.block) q.wide.dispose();
  q.block.dispose();
}

/** The file's raw tensor in the storage dtype (the same tensor when no conversion is needed). */
function convert(raw: Tensor<"float32" | "float16">, fileDType: string, target: "float32" | "float16"): Tensor<"float32" | "float16"> {
  if (fileDType === "F32") {
    const f32 = raw as Tensor<"float32">;
    return target === "float32" ? f32 : f32ToF16(f32);
  }
  const bits = raw as Tensor<"float16">;
  if (fileDType === "F16" && target === "float16") return bits;
  const wide = fileDType === "F16" ? f16ToF32(bits) : bf16ToF32(bits);
  if (target === "float32") return wide;
  try {
    return f32ToF16(wide);
  } finally {
    wide.dispose();
  }
}

/** Little-endian F32, F16 or BF16 bytes as float32 values. */
export function floatsOf(bytes: Uint8Array, dtype: string): Float32Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dtype === "F32") return Float32Array.from({ length: bytes.length / 4 }, (_, i) => dv.getFloat32(4 * i, true));
  const out = new Float32Array(bytes.length / 2);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < out.length; i++) {
    const h = dv.getUint16(2 * i, true);
    if (dtype === "BF16") bits[i] = h << 16;
    else out[i] = halfToNumber(h);
  }
  return out;
}

/** The value of IEEE half bits `h`. */
function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const ex = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (ex === 0) return s * m * 2 ** -24;
  if (ex === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (ex - 15);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let i = 0;
  if (a.byteOffset % 4 === b.byteOffset % 4) {
    // Word compares over the common aligned middle: a tied embedding is tens of megabytes.
    for (; i < a.length && (a.byteOffset + i) % 4 !== 0; i++) if (a[i] !== b[i]) return false;
    const words = (a.length - i) >> 2;
    const x = new Uint32Array(a.buffer, a.byteOffset + i, words);
    const y = new Uint32Array(b.buffer, b.byteOffset + i, words);
    for (let k = 0; k < words; k++) if (x[k] !== y[k]) return false;
    i += words * 4;
  }
  for (; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
