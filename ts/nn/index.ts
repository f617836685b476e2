/** ts/nn: the TNN's layers, each holding its weights in wasm memory with a `forward` on tensors. @module */
export { Linear } from "./linear.js";
export { Embedding } from "./embedding.js";
export { SimpleRMSNorm } from "./simple-rms-norm.js";
export { LayerNorm } from "./layer-norm.js";
export { Rpe, type RpeParams } from "./rpe.js";
export { Tno, DEFAULT_TNO_CACHE_BYTES, type TnoOptions } from "./tno.js";
export { Gtu } from "./gtu.js";
export { Glu } from "./glu.js";
export { TnnBlock, type TnnBlockParts } from "./tnn-block.js";
