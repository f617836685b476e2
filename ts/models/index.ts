/** ts/models: config, safetensors, weight binding under official names, the causal LM, the encoder, loadModel. @module */
export {
  type TnnConfig, type TnnConfigJSON, type StateDictView, validateConfig, configFromJSON, configToJSON, inferConfig,
  inferFromWeights, checkConfigAgainstWeights, mixerChannels, bodyPrefix,
} from "./config.js";
export {
  SafetensorsFile, SafetensorsHeader, parseSafetensors, parseSafetensorsHeader, readSafetensors, readSafetensorsHeaderOf,
  MAX_HEADER_BYTES,
  type SafetensorsDType, type SafetensorsTensor, type SafetensorsTensorInfo,
} from "./safetensors.js";
export { type WeightsSource, readSourceBytes } from "./weights-source.js";
export { type BindOptions, expectedWeights, checkWeights, stateDictView } from "./weights.js";
export { TnnForCausalLM, type CausalLMParts } from "./causal-lm.js";
export { TnnEncoder, type EncoderParts, type ClassifyOptions } from "./encoder.js";
export { MlmHead } from "./mlm-head.js";
export { ClassificationHead } from "./classification-head.js";
export { type TokenIds, type ForwardOptions, parseTokenIds } from "./token-ids.js";
export { loadModel, buildModel, type LoadOptions, type TnnModel } from "./load.js";
