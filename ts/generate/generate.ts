/**
 * Streaming text generation: prefill the prompt, then sample, step and detokenise one token at a time.
 * @module
 */
import { InvalidOptionError, TokenizerError, ValueRangeError } from "../core/errors.js";
import { type DecodeMode } from "./decode-mode.js";
import {
  type FinishReason, type GenerateOptions, type GenerateResult, type GeneratedToken, resolveGenerateOptions,
} from "./generate-options.js";
import { Sampler } from "./sampler.js";
import { StopMatcher } from "./stop.js";
import { TokenTextStream, type Tokenizer, checkIds } from "./tokenizer.js";

/** A running sequence that turns token ids into next-token logits. */
export interface StepDecoder {
  /** Tokens consumed so far. */
  readonly position: number;
  /** Consumes a prompt (at position 0) and returns the logits after its last token, in `out` when given. */
  prefill(ids: ArrayLike<number>, out?: Float32Array): Float32Array;
  /** Consumes one token and returns the logits for the next, in `out` when given. */
  step(id: number, out?: Float32Array): Float32Array;
  /** Frees the decode state. */
  dispose(): void;
}

/** Options for creating a {@link StepDecoder}. */
export interface StepDecoderOptions {
  mode?: DecodeMode;
  /** The sequence length to size the state for at first (it grows past it as needed); default 64. */
  maxLength?: number;
  /**
   * The most positions the sequence will take (prompt and every token stepped): no state grows past it and a call
   * that would is refused. Where memory is short, exact decoding then sizes its states to it once (see
   * `DecodeState`). Default: no limit.
   */
  limit?: number;
  etscWindow?: number;
  /**
   * `"online"` mode of a model whose every kernel decays: move to windowed states (memory and time per token that do
   * not grow with the position) once the sequence reaches the longest window. Default true; false keeps the
   * full-history states, whose memory grows with the sequence.
   */
  window?: boolean;
}

/** What `generate()` needs from a model. */
export interface GenerativeModel {
  readonly vocabSize: number;
  /** Longest sequence (prompt + generated) the model decodes. */
  readonly maxLength: number;
  readonly tokenizer: Tokenizer | undefined;
  decoder(options?: StepDecoderOptions): StepDecoder;
}

/** A prompt: text (through the model's tokenizer) or token ids. */
export type Prompt = string | readonly number[] | Int32Array;

/** Converts a prompt to ids and checks them. */
export function promptIds(model: GenerativeModel, prompt: Prompt, where: string): Int32Array {
  let ids: Int32Array;
  if (typeof prompt === "string") {
    const tok = model.tokenizer;
    if (!tok) throw new TokenizerError(`${where}: this model has no tokenizer; pass the prompt as token ids`);
    const text = tok.encode(prompt);
    const prefix = tok.promptPrefix ?? [];
    ids = new Int32Array(prefix.length + text.length);
    ids.set(prefix);
    ids.set(text, prefix.length);
  } else if (prompt instanceof Int32Array) {
    ids = prompt;
  } else if (Array.isArray(prompt)) {
    ids = Int32Array.from(prompt as number[]);
    prompt.forEach((x, i) => {
      if (typeof x !== "number" || !Number.isInteger(x)) throw new ValueRangeError(`${where}: prompt id ${String(x)} at position ${i} is not an integer`);
    });
  } else {
    throw new InvalidOptionError(`${where}: the prompt must be a string, a number[] or an Int32Array`);
  }
  if (ids.length === 0) throw new ValueRangeError(`${where}: the prompt must have at least one token`);
  checkIds(ids, model.vocabSize, where);
  return ids;
}

/**
 * Lets timers and events (an abort, say) run between steps; a plain `await` only drains microtasks. `setImmediate`
 * where it exists (Node, Bun); elsewhere a one-off MessageChannel, which browsers do not clamp as they clamp nested
 * `setTimeout`s, closed after use so that it keeps no runtime alive.
 */
const nextMacrotask: () => Promise<void> =
  typeof setImmediate === "function"
    ? () => new Promise((r) => setImmediate(r))
    : typeof MessageChannel === "function"
      ? () =>
          new Promise<void>((r) => {
            const ch = new MessageChannel();
            ch.port1.onmessage = () => {
              ch.port1.close();
              r();
            };
            ch.port2.postMessage(0);
          })
      : () => new Promise((r) => setTimeout(r, 0));

/**
 * Generates tokens after `prompt`. The options are checked now (typed errors throw from this call); the work runs as
 * the returned iterator is consumed, one decode step per item. Breaking out of the loop frees the decode state.
 *
 * @example
 * for await (const { text } of generate(model, "In the beginning", { maxNewTokens: 100, seed: 1 })) process.stdout.write(text ?? "");
 * @throws {InvalidOptionError} unknown option, wrong type
 * @throws {ValueRangeError} an option out of range, maxNewTokens beyond the model's maxLength, bad prompt ids
 * @throws {TokenizerError} a text prompt for a model without tokenizer
 */
export function generate(model: GenerativeModel, prompt: Prompt, options?: GenerateOptions): AsyncGenerator<GeneratedToken, GenerateResult, undefined> {
  const ids = promptIds(model, prompt, "generate");
  const tok = model.tokenizer;
  const o = resolveGenerateOptions(options, {
    vocabSize: model.vocabSize,
    maxLength: model.maxLength,
    promptLength: ids.length,
    defaultStopTokens: tok?.eosId !== undefined ? [tok.eosId] : [],
  });
  if (o.stopStrings.length > 0 && !tok) throw new InvalidOptionError("generate: stopStrings need a model with a tokenizer");
  return run(model, tok, ids, o);
}

async function* run(
  model: GenerativeModel,
  tokenizer: Tokenizer | undefined,
  ids: Int32Array,
  o: ReturnType<typeof resolveGenerateOptions>,
): AsyncGenerator<GeneratedToken, GenerateResult, undefined> {
  const out: number[] = [];
  let shown = "";
  const finish = (finishReason: FinishReason): GenerateResult =>
    tokenizer ? { ids: out, text: shown, finishReason } : { ids: out, finishReason };
  if (o.signal?.aborted) return finish("abort");
  if (o.maxNewTokens === 0) return finish("length");

  const sampler = new Sampler(model.vocabSize, o.sampler);
  sampler.observe(ids);
  const stopIds = new Set(o.stopTokens);
  const text = tokenizer ? new TokenTextStream(tokenizer) : undefined;
  const stops = new StopMatcher(o.stopStrings);
  // Sized for the prompt only: the states grow as tokens are generated, so memory and first-token latency follow
  // what is generated, not maxNewTokens. The last token is never stepped, so the sequence takes at most
  // prompt + maxNewTokens - 1 positions; where memory is short, the decoder sizes its states to that at once.
  const decoder = model.decoder({ mode: o.mode, maxLength: ids.length + 1, limit: ids.length + o.maxNewTokens - 1, etscWindow: o.etscWindow });
  try {
    // One logits array for the whole sequence: a fresh one per token is garbage a Worker's 128 MB cannot spare.
    const logits = decoder.prefill(ids);
    for (;;) {
      const id = sampler.sample(logits);
      out.push(id);
      const isStopToken = stopIds.has(id);
      const last = isStopToken || out.length === o.maxNewTokens;
      let item: GeneratedToken = { id };
      let stopped = isStopToken;
      if (text) {
        // A stop token's own text is not shown; what was held back until then is.
        let piece = isStopToken ? "" : text.push(id);
        if (last) piece += text.flush();
        const r = stops.push(piece);
        stopped ||= r.stopped;
        const t = last && !r.stopped ? r.text + stops.flush() : r.text;
        shown += t;
        item = { id, text: t };
      }
      o.onToken?.(item);
      yield item;
      if (stopped) return finish("stop");
      if (last) return finish("length");
      await nextMacrotask();
      if (o.signal?.aborted) return finish("abort");
      decoder.step(id, logits);
    }
  } finally {
    decoder.dispose();
  }
}

/**
 * Runs {@link generate} to the end and returns everything it produced (use `onToken` to watch progress).
 */
export async function generateText(model: GenerativeModel, prompt: Prompt, options?: GenerateOptions): Promise<GenerateResult> {
  const it = generate(model, prompt, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}
