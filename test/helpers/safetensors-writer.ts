/** Writes safetensors bytes for tests, including deliberately broken files. Independent of ts/models. */

export interface RawTensor {
  dtype?: string;
  shape: number[];
  /** Float32Array (written as F32 unless dtype says otherwise), Uint16Array (F16/BF16 bits) or raw bytes. */
  data: Float32Array | Uint16Array | Uint8Array;
}

function bytesOf(a: Float32Array | Uint16Array | Uint8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Header text + data bytes → a file, with the header padded to 8 bytes as the reference writer does. */
export function assembleSafetensors(header: string, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const text = new TextEncoder().encode(header);
  const padded = Math.ceil(text.length / 8) * 8;
  const out = new Uint8Array(8 + padded + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(padded), true);
  out.fill(0x20, 8, 8 + padded);
  out.set(text, 8);
  out.set(data, 8 + padded);
  return out;
}

/** `file` with its header JSON passed through `edit` (which changes it in place); the data section kept as it is. */
export function editHeader(file: Uint8Array, edit: (header: Record<string, any>) => void): Uint8Array {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)));
  edit(header);
  return assembleSafetensors(JSON.stringify(header), file.subarray(8 + n));
}

/** A valid file holding `tensors` in insertion order. */
export function writeSafetensors(tensors: Record<string, RawTensor> | Map<string, RawTensor>, metadata?: Record<string, string>): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const blobs: Uint8Array[] = [];
  for (const [name, t] of entries) {
    const b = bytesOf(t.data);
    const dtype = t.dtype ?? (t.data instanceof Float32Array ? "F32" : t.data instanceof Uint16Array ? "F16" : "U8");
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + b.length] };
    blobs.push(b);
    offset += b.length;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const b of blobs) {
    data.set(b, at);
    at += b.length;
  }
  return assembleSafetensors(JSON.stringify(header), data);
}
