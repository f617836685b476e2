/**
 * Allocations in wasm linear memory. A tensor's bytes live inside the module so kernels read them in place; JS
 * only ever holds (pointer, size) pairs and makes short-lived views.
 * @module
 */
import { OutOfMemoryError } from "./errors.js";
import { kernels } from "./wasm.js";

/** Largest single allocation we attempt: wasm32 memory is at most 4 GiB and pointers are u32. */
export const MAX_ALLOCATION_BYTES = 2 ** 31;

/** Allocates `bytes` (16-byte aligned) in wasm memory. */
export function heapAlloc(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new OutOfMemoryError(`cannot allocate ${bytes} bytes`);
  if (bytes > MAX_ALLOCATION_BYTES) {
    throw new OutOfMemoryError(`cannot allocate ${bytes} bytes: wasm32 allocations are limited to ${MAX_ALLOCATION_BYTES}`);
  }
  const ptr = kernels().alloc(Math.max(bytes, 1));
  if (ptr === 0) throw new OutOfMemoryError(`wasm memory could not grow to fit ${bytes} more bytes`);
  return ptr;
}

/** Frees what {@link heapAlloc} returned, with the same size. */
export function heapFree(ptr: number, bytes: number): void {
  kernels().dealloc(ptr, Math.max(bytes, 1));
}
