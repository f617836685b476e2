//! Allocation of wasm linear memory for the TS layer, and the slice views every binding uses.

use std::alloc::{alloc as raw_alloc, dealloc as raw_free, Layout};
use wasm_bindgen::prelude::*;

/// Every allocation is 16-byte aligned so f32x4 loads never straddle.
const ALIGN: usize = 16;

/// Allocates `bytes` bytes; returns 0 when memory cannot grow (the TS layer turns that into OutOfMemoryError).
#[wasm_bindgen]
pub fn alloc(bytes: usize) -> usize {
    match Layout::from_size_align(bytes.max(1), ALIGN) {
        // SAFETY: the layout has a non-zero size.
        Ok(layout) => unsafe { raw_alloc(layout) as usize },
        Err(_) => 0,
    }
}

/// Frees what `alloc(bytes)` returned.
#[wasm_bindgen]
pub fn dealloc(ptr: usize, bytes: usize) {
    if ptr == 0 {
        return;
    }
    if let Ok(layout) = Layout::from_size_align(bytes.max(1), ALIGN) {
        // SAFETY: `ptr` came from `alloc` with this same size (the TS layer keeps the pair together).
        unsafe { raw_free(ptr as *mut u8, layout) }
    }
}

/// `len` elements at byte offset `ptr`. A zero length never touches `ptr`.
pub(crate) fn slice<'a, T>(ptr: usize, len: usize) -> &'a [T] {
    if len == 0 {
        return &[];
    }
    // SAFETY: the TS layer passes live, aligned allocations of at least `len` elements.
    unsafe { std::slice::from_raw_parts(ptr as *const T, len) }
}

/// Mutable twin of [`slice`]; the TS layer guarantees the buffer overlaps no other argument of the call.
pub(crate) fn slice_mut<'a, T>(ptr: usize, len: usize) -> &'a mut [T] {
    if len == 0 {
        return &mut [];
    }
    // SAFETY: as for `slice`, plus exclusivity.
    unsafe { std::slice::from_raw_parts_mut(ptr as *mut T, len) }
}
