// The safetensors reader on valid files and on every kind of broken one, built here byte by byte.
import { describe, expect, it } from "vitest";
import { WeightsFormatError } from "../ts/core/index.js";
import { MAX_HEADER_BYTES, parseSafetensors, readSafetensors } from "../ts/models/index.js";
import { assembleSafetensors, writeSafetensors } from "./helpers/safetensors-writer.js";

const f32 = (...v: number[]) => new Float32Array(v);
const header = (h: Record<string, unknown>): string => JSON.stringify(h);
const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i);

function expectFormatError(file: Uint8Array, pattern: RegExp): void {
  let err: unknown;
  try {
    parseSafetensors(file);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(WeightsFormatError);
  expect((err as Error).message).toMatch(pattern);
}

describe("safetensors reader", () => {
  it("reads names, dtypes, shapes, metadata and bytes", async () => {
    const file = writeSafetensors(
      {
        a: { shape: [2, 2], data: f32(1, 2, 3, 4) },
        h: { dtype: "F16", shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0]) },
        b: { dtype: "BF16", shape: [1], data: new Uint16Array([0x3f80]) },
        empty: { shape: [0, 5], data: new Float32Array(0) },
      },
      { format: "pt" },
    );
    const st = parseSafetensors(file);
    expect(st.names().sort()).toEqual(["a", "b", "empty", "h"]);
    expect(st.metadata).toEqual({ format: "pt" });
    const a = st.get("a")!;
    expect(a.dtype).toBe("F32");
    expect(a.shape).toEqual([2, 2]);
    expect(new Float32Array(a.bytes.slice().buffer)).toEqual(f32(1, 2, 3, 4));
    expect(st.get("h")!.bytes.length).toBe(6);
    expect(st.get("empty")!.bytes.length).toBe(0);
    // The same through every source kind.
    for (const src of [file.buffer.slice(0), new Response(file as Uint8Array<ArrayBuffer>)]) expect((await readSafetensors(src as ArrayBuffer)).size).toBe(4);
  });

  it("rejects a file shorter than the length prefix", () => {
    expectFormatError(new Uint8Array(5), /too short/);
  });

  it("rejects a header length past the end of the file", () => {
    const ok = writeSafetensors({ a: { shape: [1], data: f32(1) } });
    expectFormatError(ok.subarray(0, 20), /past the end/);
    expectFormatError(assembleSafetensors(header({}), new Uint8Array(0), 4096n), /past the end/);
  });

  it("rejects an absurd header length without allocating it", () => {
    expectFormatError(assembleSafetensors(header({}), new Uint8Array(0), 2n ** 60n), /exceeds/);
    expectFormatError(assembleSafetensors(header({}), new Uint8Array(0), BigInt(MAX_HEADER_BYTES + 1)), /exceeds/);
  });

  it("rejects invalid JSON and non-object headers", () => {
    expectFormatError(assembleSafetensors('{"a": {"dtype": "F32",', new Uint8Array(0)), /not valid JSON/);
    expectFormatError(assembleSafetensors("[1, 2]", new Uint8Array(0)), /must start with "{"/);
    expectFormatError(assembleSafetensors("null", new Uint8Array(0)), /must start with "{"/);
    expectFormatError(assembleSafetensors(header({ a: 5 }), new Uint8Array(0)), /must be an object/);
    expectFormatError(assembleSafetensors(header({ __metadata__: { k: 1 } }), new Uint8Array(0)), /__metadata__/);
  });

  it("rejects invalid UTF-8 in the header", () => {
    const f = assembleSafetensors('{"a":1}', new Uint8Array(0));
    f[9] = 0xff;
    expectFormatError(f, /UTF-8/);
  });

  it("rejects unknown dtypes", () => {
    expectFormatError(assembleSafetensors(header({ a: { dtype: "F24", shape: [1], data_offsets: [0, 3] } }), bytes(3)), /unknown dtype "F24"/);
    expectFormatError(assembleSafetensors(header({ a: { shape: [1], data_offsets: [0, 4] } }), bytes(4)), /unknown dtype/);
  });

  it("rejects bad shapes and a shape/size mismatch", () => {
    expectFormatError(assembleSafetensors(header({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }), bytes(4)), /invalid shape/);
    expectFormatError(assembleSafetensors(header({ a: { dtype: "F32", shape: [1.5], data_offsets: [0, 4] } }), bytes(4)), /invalid shape/);
    expectFormatError(assembleSafetensors(header({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }), bytes(8)), /12 bytes.*span 8/);
    expectFormatError(assembleSafetensors(header({ a: { dtype: "F16", shape: [2, 2], data_offsets: [0, 16] } }), bytes(16)), /8 bytes.*span 16/);
  });

  it("rejects offsets out of bounds", () => {
    expectFormatError(assembleSafetensors(header({ a: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }), bytes(8)), /out of bounds/);
    expectFormatError(assembleSafetensors(header({ a: { dtype: "F32", shape: [1], data_offsets: [4, 0] } }), bytes(8)), /invalid data_offsets/);
    expectFormatError(assembleSafetensors(header({ a: { dtype: "F32", shape: [1], data_offsets: [0] } }), bytes(4)), /invalid data_offsets/);
    expectFormatError(assembleSafetensors(header({ a: { dtype: "F32", shape: [1], data_offsets: [0, 2 ** 60] } }), bytes(4)), /invalid data_offsets|out of bounds/);
  });

  it("rejects overlapping tensors", () => {
    const h = header({
      a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
      b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
    });
    expectFormatError(assembleSafetensors(h, bytes(12)), /overlap/);
  });

  it("rejects gaps and trailing bytes that belong to no tensor", () => {
    const gap = header({
      a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
      b: { dtype: "F32", shape: [1], data_offsets: [8, 12] },
    });
    expectFormatError(assembleSafetensors(gap, bytes(12)), /belong to no tensor/);
    expectFormatError(assembleSafetensors(header({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }), bytes(12)), /cover only 4/);
  });

  it("reads a path and a file: URL in Node, and reports a missing file as a typed error", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { pathToFileURL } = await import("node:url");
    const dir = mkdtempSync(`${tmpdir()}/tnn-st-`);
    const path = `${dir}/w.safetensors`;
    writeFileSync(path, writeSafetensors({ a: { shape: [1], data: f32(7) } }));
    expect((await readSafetensors(path)).get("a")!.shape).toEqual([1]);
    expect((await readSafetensors(pathToFileURL(path))).has("a")).toBe(true);
    await expect(readSafetensors(`${dir}/missing.safetensors`)).rejects.toBeInstanceOf(WeightsFormatError);
  });
});

/** The header text exactly as given, unpadded, followed by `data`. */
function rawFile(text: string, data: Uint8Array): Uint8Array {
  const t = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + t.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(t.length), true);
  out.set(t, 8);
  out.set(data, 8 + t.length);
  return out;
}

// Each rule of the format as the reference reader (huggingface/safetensors: serde_json into typed structs, then
// `Metadata::validate`) enforces it, where a JSON.parse-based reader would be lenient.
describe("safetensors format rules", () => {
  const one = '"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';

  it("duplicate tensor names are refused, even when the last one is valid", () => {
    expectFormatError(assembleSafetensors(`{"a":{"dtype":"F32","shape":[9],"data_offsets":[0,1]},${one}}`, bytes(4)), /"a" appears twice/);
  });

  it("a field repeated inside a tensor entry is refused", () => {
    expectFormatError(assembleSafetensors('{"a":{"dtype":"F16","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', bytes(4)), /"dtype" appears twice/);
  });

  it("the header starts with '{': a byte-order mark or leading space is refused", () => {
    expectFormatError(rawFile(`\uFEFF{${one}}`, bytes(4)), /must start with "\{"/);
    expectFormatError(rawFile(` {${one}}`, bytes(4)), /must start with "\{"/);
  });

  it("trailing spaces after the object (the writers' padding) are allowed; other trailing text is not", () => {
    expect(parseSafetensors(rawFile(`{${one}}     `, bytes(4))).get("a")!.shape).toEqual([1]);
    expectFormatError(rawFile(`{${one}} x`, bytes(4)), /not valid JSON/);
  });

  it("offsets and shapes are integer literals: 0.0, 4.0 and 1e0 are refused", () => {
    expectFormatError(assembleSafetensors('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.0,4]}}', bytes(4)), /invalid data_offsets/);
    expectFormatError(assembleSafetensors('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}}', bytes(4)), /invalid data_offsets/);
    expectFormatError(assembleSafetensors('{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}', bytes(4)), /invalid shape/);
  });

  it("a shape whose byte size cannot be addressed is refused (the reference's overflow check)", () => {
    expectFormatError(assembleSafetensors('{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}', bytes(4)), /too large/);
  });

  it("a header nested to exhaust the stack is a format error, not a RangeError", () => {
    expectFormatError(assembleSafetensors(`{"__metadata__":${"[".repeat(100_000)}`, new Uint8Array(0)), /nesting deeper/);
  });

  it("__metadata__ holds strings only", () => {
    expectFormatError(assembleSafetensors(`{"__metadata__":{"n":1},${one}}`, bytes(4)), /__metadata__ must be an object of strings/);
  });

  it("an unaligned header is read, as the reference reads it (only writers pad to 8 bytes)", () => {
    const text = `{${one}}`;
    expect(text.length % 8).not.toBe(0);
    expect(parseSafetensors(rawFile(text, bytes(4))).get("a")!.bytes.length).toBe(4);
  });

  it("an unknown dtype is refused; a known non-float one is read (the model loader refuses it later)", () => {
    expectFormatError(assembleSafetensors('{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', bytes(16)), /unknown dtype/);
    expect(parseSafetensors(assembleSafetensors('{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}', bytes(8))).get("a")!.dtype).toBe("I64");
  });
});
