/**
 * tnn: Toeplitz Neural Networks on SIMD WebAssembly, for Node, Deno, Bun, Cloudflare Workers and browsers.
 *
 * Load a model with {@link loadModel} (it initialises the wasm kernels), then `model.forward(ids)` or
 * `model.generate(prompt)`. In a Cloudflare Worker call {@link init} first with the module the Worker imports:
 * `import wasm from "tnn/tnn-simd.wasm"; await init({ wasm })` (Workers cannot compile wasm from bytes).
 * @packageDocumentation
 */
export * from "./core/index.js";
export * from "./nn/index.js";
export * from "./models/index.js";
export * from "./generate/index.js";
