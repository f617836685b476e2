/**
 * Allocations in wasm linear memory, and the budget they are held to. A tensor's bytes live inside the module so
 * kernels read them in place; JS only ever holds (pointer, size) pairs and makes short-lived views.
 *
 * Wasm memory only grows: a call that allocates a gigabyte and then fails leaves the process holding it. So every
 * call that may need much memory (loading, a forward pass, a decode state) states its need first, and
 * {@link reserve} refuses it with an `OutOfMemoryError` when the bytes in use plus that need exceed the budget,
 * before anything is allocated.
 * @module
 */
import { OutOfMemoryError, ValueRangeError } from "./errors.js";
import { kernels } from "./wasm.js";

/** Largest single allocation we attempt: wasm32 memory is at most 4 GiB and pointers are u32. */
export const MAX_ALLOCATION_BYTES = 2 ** 31;

/** What a wasm32 module can address. */
const WASM32_BYTES = 2 ** 32;

/**
 * A Cloudflare Worker's isolate holds 128 MB, JS heap included: the wasm memory gets what the JS heap leaves (about
 * 10 MiB measured while a paper-size LM streams in and generates).
 */
const WORKER_BYTES = 118 * 2 ** 20;

function isWorkerd(): boolean {
  return typeof navigator !== "undefined" && (navigator as { userAgent?: string }).userAgent === "Cloudflare-Workers";
}

let budget = isWorkerd() ? WORKER_BYTES : WASM32_BYTES;

/** The bytes of wasm memory tnn may hold: 118 MiB in a Cloudflare Worker, 4 GiB (all wasm32 can address) elsewhere. */
export function memoryBudget(): number {
  return budget;
}

/**
 * Sets the bytes of wasm memory tnn may hold; calls whose need would exceed it throw `OutOfMemoryError` first.
 * @throws {ValueRangeError} not an integer in [1 MiB, 4 GiB]
 */
export function setMemoryBudget(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 2 ** 20 || bytes > WASM32_BYTES) {
    throw new ValueRangeError(`memory budget must be an integer number of bytes in [1 MiB, 4 GiB], got ${bytes}`);
  }
  budget = bytes;
}

/** Bytes the module has allocated and not freed (tensors, plans, decode states, scratch). */
export function heapInUse(): number {
  return kernels().heap_in_use();
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** Whether `bytes` more fit the budget now. */
export function fits(bytes: number): boolean {
  return heapInUse() + bytes <= budget;
}

/**
 * Refuses `what`, before it allocates anything, when it needs more than the budget leaves.
 * @throws {OutOfMemoryError} in use + `bytes` > the budget
 */
export function reserve(bytes: number, what: string): void {
  const inUse = heapInUse();
  if (!(inUse + bytes <= budget)) {
    throw new OutOfMemoryError(
      `${what} needs about ${mib(bytes)} of wasm memory, but ${mib(inUse)} are in use and the budget is ${mib(budget)} ` +
        `(init({ memoryBudget }) or setMemoryBudget() changes it)`,
    );
  }
}

/** Allocates `bytes` (16-byte aligned) in wasm memory, within the budget. */
export function heapAlloc(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new OutOfMemoryError(`cannot allocate ${bytes} bytes`);
  if (bytes > MAX_ALLOCATION_BYTES) {
    throw new OutOfMemoryError(`cannot allocate ${bytes} bytes: wasm32 allocations are limited to ${MAX_ALLOCATION_BYTES}`);
  }
  reserve(bytes, `an allocation of ${bytes} bytes`);
  const ptr = kernels().alloc(Math.max(bytes, 1));
  if (ptr === 0) throw new OutOfMemoryError(`wasm memory could not grow to fit ${bytes} more bytes`);
  return ptr;
}

/** Frees what {@link heapAlloc} returned, with the same size. */
export function heapFree(ptr: number, bytes: number): void {
  kernels().dealloc(ptr, Math.max(bytes, 1));
}
