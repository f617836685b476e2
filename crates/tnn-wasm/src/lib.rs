//! wasm-bindgen bindings for tnn-kernels. Every function takes byte offsets into this module's linear memory
//! (see ARCHITECTURE.md, "The wasm ABI"); the TypeScript layer validates shapes before calling.

mod memory;
mod kernels;
mod toeplitz;
mod decode;
mod quant;
