//! wasm-bindgen bindings for tnn-kernels. Every function takes byte offsets into this module's linear memory
//! (see ARCHITECTURE.md, "The wasm ABI"); the TypeScript layer validates shapes before calling.

mod memory;
mod kernels;
mod toeplitz;
mod decode;
mod quant;

use wasm_bindgen::prelude::*;

/// Which build this module is, as bits: 1 = simd128, 2 = relaxed SIMD, 4 = threads (shared memory and atomics).
/// `init()` reads it to name the module it was handed, whatever the file was called.
#[wasm_bindgen]
pub fn build_features() -> u32 {
    (cfg!(target_feature = "simd128") as u32)
        | (cfg!(target_feature = "relaxed-simd") as u32) << 1
        | (cfg!(target_feature = "atomics") as u32) << 2
}
