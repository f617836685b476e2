/** ts/nn: the TNN's layers, each declaring its parameters in `load(vb, ...)` and holding them in wasm memory. @module */
export { type VarBuilder, type VarBackend, type ParamSpec, type ParamKind, PrefixedVarBuilder, DeclaringVarBuilder } from "./var-builder.js";
export { Linear } from "./linear.js";
export { Embedding } from "./embedding.js";
export { SimpleRMSNorm } from "./simple-rms-norm.js";
export { LayerNorm } from "./layer-norm.js";
export { Rpe, type RpeParams } from "./rpe.js";
export { type SequenceMixer } from "./sequence-mixer.js";
export { Tno, DEFAULT_TNO_CACHE_BYTES, type TnoOptions, type TnoShape } from "./tno.js";
export { type TokenMixer, type GtuShape, Gtu, GtuV1, GtuV3 } from "./gtu.js";
export { type ChannelMixer, Glu, GluV2 } from "./glu.js";
export { type Residual, PreNorm, PostNorm } from "./residual.js";
export { TnnBlock } from "./tnn-block.js";
