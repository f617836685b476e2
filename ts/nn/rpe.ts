/**
 * `Rpe`: the relative position encoder, an MLP from a signed integer offset k to one Toeplitz coefficient per
 * channel.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { type RpeShape, rpeForward, rpePackedLength } from "../core/ops.js";
import { Tensor } from "../core/tensor.js";
import { type VarBuilder } from "./var-builder.js";

type F32 = Tensor<"float32">;

/** The RPE's parameters, PyTorch `(out, in)` layout, flattened row-major. */
export interface RpeParams {
  /** `pos_proj.weight`, `(e, 1)`. */
  readonly posWeight: Float32Array;
  /** `pos_proj.bias`, `(e)`. */
  readonly posBias: Float32Array;
  /** `layers.{r}.2.weight` `(e, e)` and `.bias` `(e)`, for r = 0..R-1. */
  readonly layers: readonly { readonly weight: Float32Array; readonly bias: Float32Array }[];
  /** `out.2.weight`, `(d1, e)`. */
  readonly outWeight: Float32Array;
  /** `out.2.bias`, `(d1)`. */
  readonly outBias: Float32Array;
}

/**
 * `z = W_pos k + b_pos`; R times `z = W_r ReLU(SRMS(z)) + b_r`; `RPE(k) = W_out ReLU(SRMS(z)) + b_out`.
 * The parameters sit in one wasm buffer in the order `rpe_forward` reads them (ARCHITECTURE.md).
 */
export class Rpe {
  readonly shape: RpeShape;
  readonly #packed: F32;

  /**
   * Takes ownership of `packed`: the parameters end to end in the order of {@link Rpe.load}.
   * @throws {ShapeError} `packed` does not hold an MLP of `shape`
   */
  constructor(packed: F32, shape: RpeShape) {
    if (shape.rpeDim < 1 || shape.channels < 1 || shape.layers < 0) {
      throw new ShapeError(`Rpe: needs e ≥ 1, channels ≥ 1 and layers ≥ 0, got e=${shape.rpeDim}, channels=${shape.channels}, layers=${shape.layers}`);
    }
    if (packed.dtype !== "float32" || packed.size !== rpePackedLength(shape)) {
      throw new ShapeError(`Rpe: packed parameters have ${packed.size} floats, expected ${rpePackedLength(shape)} for e=${shape.rpeDim}, ${shape.layers} layers, ${shape.channels} channels`);
    }
    this.shape = Object.freeze({ rpeDim: shape.rpeDim, layers: shape.layers, channels: shape.channels });
    this.#packed = packed;
  }

  /** The official `toep.rpe` parameters: `pos_proj`, `layers.{r}.2`, `out.2` (weights and biases). */
  static load(vb: VarBuilder, shape: RpeShape): Rpe {
    const { rpeDim: e, layers, channels } = shape;
    const parts: [string, number[]][] = [["pos_proj.weight", [e, 1]], ["pos_proj.bias", [e]]];
    for (let r = 0; r < layers; r++) parts.push([`layers.${r}.2.weight`, [e, e]], [`layers.${r}.2.bias`, [e]]);
    parts.push(["out.2.weight", [channels, e]], ["out.2.bias", [channels]]);
    return new Rpe(vb.packed(parts), shape);
  }

  /**
   * An Rpe from parameter arrays (copied into wasm memory).
   * @throws {ShapeError} the parameter sizes do not fit one MLP
   */
  static fromParams(params: RpeParams): Rpe {
    const e = params.posBias.length;
    const channels = params.outBias.length;
    const want: [string, Float32Array, number][] = [
      ["posWeight", params.posWeight, e],
      ["outWeight", params.outWeight, channels * e],
    ];
    params.layers.forEach((l, r) => {
      want.push([`layers[${r}].weight`, l.weight, e * e], [`layers[${r}].bias`, l.bias, e]);
    });
    for (const [what, a, n] of want) {
      if (a.length !== n) throw new ShapeError(`Rpe: ${what} has ${a.length} values, expected ${n} (e=${e}, channels=${channels})`);
    }
    const shape = { rpeDim: e, layers: params.layers.length, channels };
    const all = [params.posWeight, params.posBias, ...params.layers.flatMap((l) => [l.weight, l.bias]), params.outWeight, params.outBias];
    const packed = Tensor.empty("float32", [rpePackedLength(shape)]);
    const view = packed.data;
    let at = 0;
    for (const a of all) {
      view.set(a, at);
      at += a.length;
    }
    return new Rpe(packed, shape);
  }

  /** Output channels (d1). */
  get channels(): number {
    return this.shape.channels;
  }

  /**
   * The MLP at offsets `kStart .. kStart + count - 1`, times `λ_c^|k|` for `k ≠ 0` when `gamma` (`[channels]`) is
   * given: `[count, channels]`.
   */
  forward(kStart: number, count: number, gamma?: F32): F32 {
    return rpeForward(this.#packed, this.shape, kStart, count, gamma);
  }

  /**
   * Per channel c, a bound `B_c ≥ |RPE(k)[c]|` that holds for every offset k: the last stage is
   * `W_out · ReLU(SRMS(z)) + b_out`, and SimpleRMSNorm gives `‖SRMS(z)‖₂ = √e·‖z‖/(‖z‖ + √e·ε) < √e` while ReLU never
   * increases a magnitude, so by Cauchy–Schwarz `|RPE(k)[c]| ≤ ‖W_out[c,:]‖₂·√e + |b_out[c]|`. Computed in float64
   * and rounded up, so float32 storage of the weights cannot make it smaller than the truth.
   */
  bound(): Float64Array {
    const { rpeDim: e, layers, channels } = this.shape;
    const p = this.#packed.data;
    const outW = 2 * e + layers * (e * e + e);
    const outB = outW + channels * e;
    const b = new Float64Array(channels);
    for (let c = 0; c < channels; c++) {
      let ss = 0;
      for (let j = 0; j < e; j++) ss += p[outW + c * e + j]! ** 2;
      // One ulp of headroom per operation is far more than float64 rounding of e + 2 terms can take away.
      b[c] = (Math.sqrt(ss) * Math.sqrt(e) + Math.abs(p[outB + c]!)) * (1 + 1e-12);
    }
    return b;
  }

  /** Frees the packed parameters. Idempotent. */
  dispose(): void {
    this.#packed.dispose();
  }
}
