/**
 * `QuantizedMatrix`: a weight matrix as int8 codes with one float32 scale per row, `w[j][p] ≈ scales[j] · codes[j][p]`.
 * A quarter of float32's memory and half of float16's; products are still computed in float32.
 * @module
 */
import { DTypeError, ShapeError, ValueRangeError } from "./errors.js";
import { Tensor, expectDType } from "./tensor.js";
import { kernels } from "./wasm.js";

/** Row-wise symmetric int8 weights: codes in [-127, 127] and `scale = max|row| / 127` per row. */
export class QuantizedMatrix {
  /** Storage type of the codes. */
  readonly dtype = "int8" as const;
  /** `[rows, cols]` int8 codes. */
  readonly codes: Tensor<"int8">;
  /** `[rows]` float32 scales. */
  readonly scales: Tensor<"float32">;

  /**
   * Takes ownership of `codes` (`[rows, cols]`, int8) and `scales` (`[rows]`, float32).
   * @throws {ShapeError} the dims do not fit together
   * @throws {DTypeError} a tensor has another dtype
   */
  constructor(codes: Tensor<"int8">, scales: Tensor<"float32">) {
    if (codes.dtype !== "int8") throw new DTypeError(`QuantizedMatrix: codes must be int8, got ${String(codes.dtype)}`);
    expectDType(scales, "float32", "QuantizedMatrix scales");
    if (codes.dims.length !== 2) throw new ShapeError(`QuantizedMatrix: codes must be [rows, cols], got ${codes.shapeString}`);
    if (scales.dims.length !== 1 || scales.dims[0] !== codes.dims[0]) {
      throw new ShapeError(`QuantizedMatrix: scales have dims ${scales.shapeString}, expected [${codes.dims[0]}]`);
    }
    this.codes = codes;
    this.scales = scales;
  }

  /** A matrix that only declares its dims and owns no memory (see `Tensor.declared`). */
  static declared(dims: readonly [number, number]): QuantizedMatrix {
    return new QuantizedMatrix(Tensor.declared("int8", dims), Tensor.declared("float32", [dims[0]]));
  }

  /** An uninitialised matrix of `dims`, to be filled with {@link quantizeRows}. */
  static empty(dims: readonly [number, number]): QuantizedMatrix {
    const codes = Tensor.empty("int8", dims);
    try {
      return new QuantizedMatrix(codes, Tensor.empty("float32", [dims[0]]));
    } catch (e) {
      codes.dispose();
      throw e;
    }
  }

  /**
   * Quantizes a float32 matrix `[rows, cols]`.
   * @throws {ValueRangeError} a weight is NaN or infinite
   */
  static quantize(w: Tensor<"float32">): QuantizedMatrix {
    expectDType(w, "float32", "QuantizedMatrix.quantize");
    if (w.dims.length !== 2) throw new ShapeError(`QuantizedMatrix.quantize: expected [rows, cols], got ${w.shapeString}`);
    const q = QuantizedMatrix.empty(w.dims as [number, number]);
    try {
      q.quantizeRows(w, 0);
    } catch (e) {
      q.dispose();
      throw e;
    }
    return q;
  }

  /** `[rows, cols]`. */
  get dims(): readonly number[] {
    return this.codes.dims;
  }

  /** The dims as text, for messages. */
  get shapeString(): string {
    return this.codes.shapeString;
  }

  /**
   * Quantizes the first `r` float32 rows of `w` (`[≥ r, cols]`) into rows `row0 .. row0 + r` of this matrix; lets a
   * large matrix be filled block by block, as its bytes arrive.
   * @throws {ValueRangeError} a weight is NaN or infinite
   * @throws {ShapeError} the block does not fit
   */
  quantizeRows(w: Tensor<"float32">, row0: number, r = w.dims[0] ?? 0): void {
    expectDType(w, "float32", "quantizeRows");
    const [rows, cols] = this.dims as [number, number];
    const ok = w.dims.length === 2 && w.dims[1] === cols && Number.isSafeInteger(r) && r >= 0 && r <= w.dims[0]!;
    if (!ok || !Number.isSafeInteger(row0) || row0 < 0 || row0 + r > rows) {
      throw new ShapeError(`quantizeRows: ${r} rows of ${w.shapeString} at row ${row0} do not fit a [${rows}, ${cols}] matrix`);
    }
    const data = w.data.subarray(0, r * cols);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i]!)) {
        throw new ValueRangeError(`quantizeRows: weight ${data[i]} at row ${row0 + Math.floor(i / cols)}, column ${i % cols} is not finite`);
      }
    }
    if (r > 0 && cols > 0) kernels().quantize_rows_i8(w.ptr, r, cols, this.codes.ptr + row0 * cols, this.scales.ptr + 4 * row0);
    else if (r > 0) this.scales.data.fill(0, row0, row0 + r);
  }

  /** The float32 values the codes stand for, `scales[j] · codes[j][p]` (a new tensor). */
  dequantize(): Tensor<"float32"> {
    const [rows, cols] = this.dims as [number, number];
    const out = Tensor.empty("float32", [rows, cols]);
    const c = this.codes.data;
    const s = this.scales.data;
    const o = out.data;
    for (let j = 0; j < rows; j++) for (let p = 0; p < cols; p++) o[j * cols + p] = s[j]! * c[j * cols + p]!;
    return out;
  }

  /** Whether both hold the same codes and scales. */
  equals(other: QuantizedMatrix): boolean {
    if (other.dims[0] !== this.dims[0] || other.dims[1] !== this.dims[1]) return false;
    if (other.codes.sharesDataWith(this.codes) && other.scales.sharesDataWith(this.scales)) return true;
    const a = this.codes.data;
    const b = other.codes.data;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    const s = this.scales.data;
    const t = other.scales.data;
    for (let i = 0; i < s.length; i++) if (s[i] !== t[i]) return false;
    return true;
  }

  /** Another handle on the same codes and scales (both must be disposed), as a tied output projection needs. */
  share(): QuantizedMatrix {
    return new QuantizedMatrix(this.codes.reshape(this.codes.dims), this.scales.reshape(this.scales.dims));
  }

  /** Frees the codes and scales at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Frees the codes and scales. Idempotent. */
  dispose(): void {
    this.codes.dispose();
    this.scales.dispose();
  }
}

/** A weight matrix in any storage: float32, float16 bits, or int8 codes with row scales. */
export type Matrix = Tensor<"float32" | "float16"> | QuantizedMatrix;
