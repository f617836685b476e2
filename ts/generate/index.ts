/** ts/generate: decode state (online FFT / naive / ETSC), samplers, tokenizers, streaming `generate()`. @module */
export { CausalLM, DEFAULT_MAX_LENGTH, MAX_LENGTH_LIMIT } from "./causal-lm.js";
export { loadModel, type LoadOptions, type LoadedModel, type ModelKind } from "./load.js";
export { DecodeState, DEFAULT_DECODER_MAX_LENGTH, type DecodableModel } from "./decode-state.js";
export { DecodeKernelCache, lengthBucket, MIN_BUCKET } from "./decode-kernels.js";
export { type DecodeMode, DECODE_MODES } from "./decode-mode.js";
export {
  generate, generateText, promptIds, type GenerativeModel, type StepDecoder, type StepDecoderOptions, type Prompt,
} from "./generate.js";
export {
  type GenerateOptions, type GenerateResult, type GeneratedToken, type FinishReason, DEFAULT_MAX_NEW_TOKENS,
  DEFAULT_ETSC_WINDOW,
} from "./generate-options.js";
export { Sampler, argmax, type SamplerOptions } from "./sampler.js";
export { Xoshiro128 } from "./prng.js";
export { StopMatcher, type StopResult } from "./stop.js";
export { type Tokenizer, TokenTextStream } from "./tokenizer.js";
export { ByteTokenizer } from "./byte-tokenizer.js";
export { Gpt2Tokenizer, GPT2_VOCAB_SIZE, GPT2_EOS_ID } from "./gpt2-tokenizer.js";
export { FairseqDictionary } from "./fairseq-dictionary.js";
export { Utf8Stream } from "./utf8-stream.js";
