/** ts/core: tensors, wasm loading, memory, errors and kernels on tensors. @module */
export * from "./errors.js";
export * from "./dtype.js";
export { Tensor, expectDType, expectDims } from "./tensor.js";
export {
  init, backendInfo, simdSupported, relaxedSimdSupported, threadsSupported, stopThreads, memoryBytes, DEFAULT_MAX_THREADS, MAX_THREADS,
  type Build, type ModuleKey, type InitOptions, type BackendInfo, type WasmSource,
} from "./wasm.js";
export {
  silu, relu, gelu, mul, add, scale, simpleRmsNorm, layerNorm, matmul, embedding, f16ToF32, f32ToF16, bf16ToF32,
  rpeForward, rpePackedLength, toeplitzDirect, toeplitzCoeffRows, type RpeShape,
} from "./ops.js";
export { ToeplitzPlan, toeplitzCrossover } from "./toeplitz-plan.js";
export { memoryBudget, setMemoryBudget, heapInUse } from "./memory.js";
export { QuantizedMatrix, type Matrix } from "./quantized-matrix.js";
