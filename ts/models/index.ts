/** ts/models: config, safetensors, weight binding under official names, the causal LM, the encoder, loadModel. @module */
export {
  type TnnConfig, type TnnConfigJSON, type StateDictView, validateConfig, configFromJSON, configToJSON, inferConfig,
  inferFromWeights, checkConfigAgainstWeights, mixerChannels, bodyPrefix,
} from "./config.js";
export {
  SafetensorsFile, parseSafetensors, readSafetensors, readSourceBytes, MAX_HEADER_BYTES, type SafetensorsDType,
  type SafetensorsTensor, type WeightsSource,
} from "./safetensors.js";
export { type BindOptions, expectedWeights, checkWeights, bindCausalLM, bindEncoder, stateDictView } from "./weights.js";
export { TnnForCausalLM, type CausalLMParts } from "./causal-lm.js";
export { TnnEncoder, type EncoderParts, type ClassifyOptions } from "./encoder.js";
export { MlmHead } from "./mlm-head.js";
export { ClassificationHead } from "./classification-head.js";
export { type TokenIds, type ForwardOptions, parseTokenIds } from "./token-ids.js";
export { loadModel, buildModel, type LoadOptions, type TnnModel } from "./load.js";
