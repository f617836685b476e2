/** ts/models: config, safetensors, official architectures, weight loading under official names, the models. @module */
export {
  type TnnConfig, type TnnConfigJSON, type GtuVersion, type GluVersion, validateConfig, configFromJSON, configToJSON, mixerChannels,
  bodyPrefix,
} from "./config.js";
export { inferConfig, inferFromWeights, checkConfigAgainstWeights, type WeightNames } from "./infer-config.js";
export { type OfficialConfigJSON, OFFICIAL_ARCHS, officialConfig, isOfficialConfig } from "./official.js";
export {
  SafetensorsFile, SafetensorsHeader, parseSafetensors, parseSafetensorsHeader, readSafetensors, readSafetensorsHeaderOf,
  MAX_HEADER_BYTES,
  type SafetensorsDType, type SafetensorsTensor, type SafetensorsTensorInfo,
} from "./safetensors.js";
export { type WeightsSource, readSourceBytes } from "./weights-source.js";
export { checkParams } from "./weights.js";
export { TnnBody, type BodyOptions } from "./tnn-body.js";
export { TnnForCausalLM, type CausalLMParts } from "./causal-lm.js";
export { TnnEncoder, type EncoderParts, type ClassifyOptions } from "./encoder.js";
export { MlmHead } from "./mlm-head.js";
export { ClassificationHead, type ClassificationHeadSpec, classificationHeadsOf } from "./classification-head.js";
export { type TokenIds, type ForwardOptions, parseTokenIds } from "./token-ids.js";
export { openModel, type OpenedModel, type ReadOptions, type ConfigSource } from "./load.js";
