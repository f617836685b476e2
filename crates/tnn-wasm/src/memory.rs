//! Allocation of wasm linear memory for the TS layer, and the slice views every binding uses.
//!
//! Every allocation of the module, the TS layer's and Rust's own, goes through a counting allocator, so the TS
//! layer can check a call's need against its memory budget before it grows the memory (which wasm never shrinks).

use std::alloc::{alloc as raw_alloc, dealloc as raw_free, GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use wasm_bindgen::prelude::*;

/// Bytes currently allocated (requested sizes, not counting the allocator's own overhead).
static IN_USE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting what is live.
struct Counting;

// SAFETY: every method forwards to `System` with the same layout, adding only a counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            IN_USE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            IN_USE.fetch_add(new_size, Ordering::Relaxed);
            IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes the module has allocated and not freed: the TS layer's tensors and Rust's own buffers.
#[wasm_bindgen]
pub fn heap_in_use() -> usize {
    IN_USE.load(Ordering::Relaxed)
}

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
