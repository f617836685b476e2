/**
 * Element types. The dtype of a tensor is part of its static type, as in onnxruntime-web's `TypedTensor<T>`:
 * a `Tensor<"float32">` hands out `Float32Array`s and cannot be passed where int32 ids are expected.
 * @module
 */

/**
 * The element types a tensor can hold. `float16` and `int8` are storage only (weights; int8 as the codes of a
 * `QuantizedMatrix`); compute is always float32.
 */
export type DType = "float32" | "int32" | "float16" | "int8";

/** The typed array that views a tensor of each dtype. `float16` is viewed as its raw IEEE-754 half bits. */
export interface DataTypeMap {
  float32: Float32Array;
  int32: Int32Array;
  float16: Uint16Array;
  int8: Int8Array;
}

/** The typed array type for dtype `T`. */
export type TypedArrayFor<T extends DType> = DataTypeMap[T];

/** Bytes per element. */
export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = { float32: 4, int32: 4, float16: 2, int8: 1 };

/** Creates a typed-array view of `length` elements of dtype `dtype` at byte offset `ptr` in `buffer`. */
export function viewOf<T extends DType>(dtype: T, buffer: ArrayBuffer, ptr: number, length: number): TypedArrayFor<T> {
  switch (dtype) {
    case "float32":
      return new Float32Array(buffer, ptr, length) as TypedArrayFor<T>;
    case "int32":
      return new Int32Array(buffer, ptr, length) as TypedArrayFor<T>;
    case "float16":
      return new Uint16Array(buffer, ptr, length) as TypedArrayFor<T>;
    case "int8":
      return new Int8Array(buffer, ptr, length) as TypedArrayFor<T>;
  }
  throw new TypeError(`unknown dtype ${String(dtype)}`);
}

/** Returns the dtype a typed array holds, or undefined for arrays tnn does not store. */
export function dtypeOfArray(a: ArrayBufferView): DType | undefined {
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof Uint16Array) return "float16";
  if (a instanceof Int8Array) return "int8";
  return undefined;
}
