//! wasm-bindgen bindings for tnn-kernels. Every function takes byte offsets into this module's linear memory
//! (see ARCHITECTURE.md, "The wasm ABI"); the TypeScript layer validates shapes before calling.

// The threaded build's pool sleeps and wakes with memory.atomic.wait32/notify, whose intrinsics are still unstable.
// That build needs -Zbuild-std (std rebuilt with atomics), hence RUSTC_BOOTSTRAP, anyway.
#![cfg_attr(target_feature = "atomics", feature(stdarch_wasm_atomic_wait))]

mod memory;
mod kernels;
mod toeplitz;
mod decode;
mod quant;
mod pool;

use wasm_bindgen::prelude::*;

/// Which build this module is, as bits: 1 = simd128, 2 = relaxed SIMD, 4 = threads (shared memory and atomics).
/// `init()` reads it to name the module it was handed, whatever the file was called.
#[wasm_bindgen]
pub fn build_features() -> u32 {
    (cfg!(target_feature = "simd128") as u32)
        | (cfg!(target_feature = "relaxed-simd") as u32) << 1
        | (cfg!(target_feature = "atomics") as u32) << 2
}
