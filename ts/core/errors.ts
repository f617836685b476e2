/**
 * Typed errors. Every public entry point throws one of these, never a bare `Error`, so callers can tell a bad
 * argument from a broken file from a runtime failure with `instanceof`.
 * @module
 */

/** Base class of every error tnn throws on purpose. */
export class TnnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor or array has the wrong number of dimensions or the wrong sizes. */
export class ShapeError extends TnnError {}

/** A tensor has the wrong element type. */
export class DTypeError extends TnnError {}

/** A number is outside its allowed range (token id, length, probability, count...), or not finite/integer. */
export class ValueRangeError extends TnnError {}

/** An option object has an unknown key, a wrong type, or a contradictory combination. */
export class InvalidOptionError extends TnnError {}

/** A weights file is truncated, corrupt, or not safetensors. */
export class WeightsFormatError extends TnnError {}

/** Weights are missing, unexpected, or mis-shaped for the model being built. Lists every problem found. */
export class WeightsMismatchError extends TnnError {
  constructor(
    message: string,
    /** One line per problem: the parameter name, what was expected and what was found. */
    readonly problems: readonly string[] = [],
  ) {
    super(problems.length ? `${message}\n  ${problems.join("\n  ")}` : message);
  }
}

/** A model config is invalid or contradicts the weights. */
export class ConfigError extends TnnError {}

/** The wasm module could not be fetched, compiled or instantiated, or `init()` was not called. */
export class WasmLoadError extends TnnError {}

/** A tensor, model or state was used after `dispose()`. */
export class DisposedError extends TnnError {}

/** The wasm heap could not grow to hold a new allocation. */
export class OutOfMemoryError extends TnnError {}

/** A decode state ran past its capacity or was used with the wrong model. */
export class DecodeStateError extends TnnError {}

/** A tokenizer could not encode or decode its input. */
export class TokenizerError extends TnnError {}
