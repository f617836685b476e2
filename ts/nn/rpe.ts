/**
 * `Rpe`: the relative position encoder, an MLP from a signed integer offset k to one Toeplitz coefficient per
 * channel.
 * @module
 */
import { ShapeError } from "../core/errors.js";
import { type RpeShape, rpeForward, rpePackedLength } from "../core/ops.js";
import { Tensor } from "../core/tensor.js";

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
 * The parameters are packed once into one wasm buffer, the layout `rpe_forward` reads.
 */
export class Rpe {
  readonly shape: RpeShape;
  readonly #packed: Tensor<"float32">;

  /**
   * Copies `params` into wasm memory.
   * @throws {ShapeError} the parameter sizes do not fit one MLP
   */
  constructor(params: RpeParams) {
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
    if (e < 1 || channels < 1) throw new ShapeError(`Rpe: needs e ≥ 1 and channels ≥ 1, got e=${e}, channels=${channels}`);
    this.shape = Object.freeze({ rpeDim: e, layers: params.layers.length, channels });
    const packed = Tensor.empty("float32", [rpePackedLength(this.shape)]);
    const view = packed.data;
    let at = 0;
    const put = (a: Float32Array): void => {
      view.set(a, at);
      at += a.length;
    };
    put(params.posWeight);
    put(params.posBias);
    for (const l of params.layers) {
      put(l.weight);
      put(l.bias);
    }
    put(params.outWeight);
    put(params.outBias);
    this.#packed = packed;
  }

  /** Output channels (d1). */
  get channels(): number {
    return this.shape.channels;
  }

  /**
   * The MLP at offsets `kStart .. kStart + count - 1`, times `λ_c^|k|` for `k ≠ 0` when `gamma` (`[channels]`) is
   * given: `[count, channels]`.
   */
  forward(kStart: number, count: number, gamma?: Tensor<"float32">): Tensor<"float32"> {
    return rpeForward(this.#packed, this.shape, kStart, count, gamma);
  }

  /** Frees the packed parameters. Idempotent. */
  dispose(): void {
    this.#packed.dispose();
  }
}
