/**
 * Where weights come from, and reading them front to back, chunk by chunk, so a large file never has to sit whole
 * in JS memory: a Worker streaming a 100 MB checkpoint into wasm holds one network chunk at a time, not a second
 * copy of the file.
 * @module
 */
import { WeightsFormatError } from "../core/errors.js";

/**
 * Where weights can come from: bytes, a URL (or URL string), a fetch `Response` or a `ReadableStream` of bytes, or a
 * file path (Node, Deno, Bun).
 */
export type WeightsSource = Uint8Array | ArrayBuffer | URL | Response | ReadableStream<Uint8Array> | string;

/** Whether a string names a URL rather than a file path (a scheme of two or more letters, then `://`). */
export function isUrlString(s: string): boolean {
  return /^[a-z][a-z0-9+.-]+:\/\//i.test(s);
}

/** What an error (or whatever a stream was errored with, `null` included) says, for a message. */
function reason(e: unknown): string {
  return e instanceof Error ? e.message : `${String(e)} (not an Error)`;
}

/** Bytes of each read from a file or a byte stream. */
const CHUNK_BYTES = 1 << 20;

/** Sequential reads of a weights source. */
export interface ByteStream {
  /** The next chunk (non-empty), or undefined at the end. A chunk is only valid until the next read. */
  read(): Promise<Uint8Array | undefined>;
  /** Releases the source; safe to call more than once. */
  close(): Promise<void>;
}

/**
 * Opens `source` for sequential reading: bytes and ArrayBuffers as they are, a `Response` or `ReadableStream` through
 * its reader, an http(s) URL through `fetch`, a file path or `file:` URL through `node:fs` (Node, Deno, Bun).
 * @throws {WeightsFormatError} the URL answered with an error status, or the file could not be opened
 */
export async function openByteStream(source: WeightsSource): Promise<ByteStream> {
  if (source instanceof Uint8Array) return bytesStream(bytesOf(source));
  if (source instanceof ArrayBuffer) return bytesStream(bytesOf(source));
  if (typeof ReadableStream !== "undefined" && source instanceof ReadableStream) {
    if (source.locked) throw new WeightsFormatError("could not read weights: the ReadableStream is locked (another reader holds it)");
    return streamOf(source);
  }
  if (typeof Response !== "undefined" && source instanceof Response) return responseStream(source, "the response");
  if (source instanceof URL || (typeof source === "string" && isUrlString(source))) {
    const url = source instanceof URL ? source : new URL(source);
    if (url.protocol === "file:") return fileStream(url);
    let res: Response;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new WeightsFormatError(`could not fetch ${url.href}: ${reason(e)}`);
    }
    return responseStream(res, url.href);
  }
  if (typeof source === "string") return fileStream(source);
  throw new WeightsFormatError("weights source must be a Uint8Array, ArrayBuffer, URL, Response, ReadableStream or file path");
}

/** The bytes of a buffer or view; a detached one is a typed error, not the engine's TypeError. */
function bytesOf(source: Uint8Array | ArrayBuffer): Uint8Array {
  const buffer = source instanceof ArrayBuffer ? source : source.buffer;
  if ((buffer as ArrayBuffer & { detached?: boolean }).detached === true) {
    throw new WeightsFormatError("could not read weights: the ArrayBuffer is detached (it was transferred)");
  }
  try {
    return source instanceof Uint8Array ? source : new Uint8Array(source);
  } catch (e) {
    throw new WeightsFormatError(`could not read weights from the ArrayBuffer: ${reason(e)}`);
  }
}

function bytesStream(bytes: Uint8Array): ByteStream {
  let done = bytes.length === 0;
  return {
    read: async () => {
      if (done) return undefined;
      done = true;
      return bytes;
    },
    close: async () => {
      done = true;
    },
  };
}

function responseStream(res: Response, what: string): ByteStream {
  if (!res.ok) {
    if (res.body && !res.body.locked) void res.body.cancel().catch(() => undefined);
    throw new WeightsFormatError(`could not read weights from ${what}: status ${res.status}`);
  }
  if (res.bodyUsed) throw new WeightsFormatError(`could not read weights from ${what}: its body was already read`);
  if (res.body?.locked) throw new WeightsFormatError(`could not read weights from ${what}: its body is locked (another reader holds it)`);
  return res.body ? streamOf(res.body) : bytesStream(new Uint8Array(0));
}

/**
 * Reads a byte stream into one reused buffer where the stream allows it (BYOB), else chunk by chunk. A default
 * reader hands out a fresh buffer per network chunk (4 KB each in workerd), and the garbage collector is in no hurry
 * to free them: draining a 97 MB response that way peaked 90 MB above an idle Worker, against 15 MB with BYOB.
 */
function streamOf(stream: ReadableStream<Uint8Array>): ByteStream {
  let byob: ReadableStreamBYOBReader;
  try {
    byob = stream.getReader({ mode: "byob" });
  } catch {
    const reader = stream.getReader();
    return pulled(() => reader.read(), () => reader.cancel());
  }
  // Each read transfers the buffer to the stream and returns it in the result; the next read passes it back.
  let buffer: ArrayBuffer = new ArrayBuffer(CHUNK_BYTES);
  // A byte stream that closes without answering the pending read (`byobRequest.respond(0)`) leaves that read
  // pending for ever, as the Streams spec has it. Its reader's `closed` does settle; a read that is still pending a
  // macrotask later can get no data any more, and ends the stream.
  const closed = byob.closed.then(() => new Promise<void>((r) => setTimeout(r, 0)));
  closed.catch(() => undefined);
  return pulled(async () => {
    let settled = false;
    const read = byob.read(new Uint8Array(buffer)).then((r) => {
      settled = true;
      return r;
    });
    const r = await Promise.race([read, closed.then(() => (settled ? read : { done: true as const, value: undefined }))]);
    if (r.value) buffer = r.value.buffer as ArrayBuffer;
    return r;
  }, () => byob.cancel());
}

/** A {@link ByteStream} over a stream reader's `read` and `cancel`, skipping empty chunks. */
function pulled(next: () => Promise<ReadableStreamReadResult<Uint8Array>>, cancel: () => Promise<void>): ByteStream {
  let closed = false;
  return {
    async read() {
      while (!closed) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await next();
        } catch (e) {
          throw new WeightsFormatError(`could not read weights: the stream failed: ${reason(e)}`);
        }
        if (r.done) {
          closed = true;
          return undefined;
        }
        if (!(r.value instanceof Uint8Array)) throw new WeightsFormatError("could not read weights: the stream must yield Uint8Array chunks");
        if (r.value.length > 0) return r.value;
      }
      return undefined;
    },
    async close() {
      if (closed) return;
      closed = true;
      await cancel().catch(() => undefined);
    },
  };
}

async function fileStream(path: string | URL): Promise<ByteStream> {
  const fs = await import("node:fs/promises");
  let fh: Awaited<ReturnType<typeof fs.open>>;
  try {
    fh = await fs.open(path, "r");
  } catch (e) {
    throw new WeightsFormatError(`could not read ${String(path)}: ${reason(e)}`);
  }
  const buf = new Uint8Array(CHUNK_BYTES);
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fh.close().catch(() => undefined);
  };
  return {
    async read() {
      if (closed) return undefined;
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
      } catch (e) {
        await close();
        throw new WeightsFormatError(`could not read ${String(path)}: ${reason(e)}`);
      }
      if (n === 0) {
        await close();
        return undefined;
      }
      return buf.subarray(0, n);
    },
    close,
  };
}

/** A {@link ByteStream} with exact-length reads on top, for headers. */
export class ChunkReader {
  readonly #stream: ByteStream;
  #pending: Uint8Array | undefined;
  #consumed = 0;

  constructor(stream: ByteStream) {
    this.#stream = stream;
  }

  /** Bytes handed out so far by {@link take} and {@link next}. */
  get consumed(): number {
    return this.#consumed;
  }

  /** Exactly `n` bytes (a copy when they span chunks), or fewer if the stream ends first. */
  async take(n: number): Promise<Uint8Array> {
    const got = await this.#take(n);
    this.#consumed += got.length;
    return got;
  }

  async #take(n: number): Promise<Uint8Array> {
    const first = this.#pending ?? (await this.#stream.read());
    this.#pending = undefined;
    if (!first) return new Uint8Array(0);
    if (first.length >= n) {
      // Copied: the stream may reuse a chunk's memory on the next read.
      this.#keep(first.subarray(n));
      return first.slice(0, n);
    }
    const out = new Uint8Array(n);
    out.set(first);
    let have = first.length;
    while (have < n) {
      const c = await this.#stream.read();
      if (!c) return out.subarray(0, have);
      const k = Math.min(n - have, c.length);
      out.set(c.subarray(0, k), have);
      have += k;
      this.#keep(c.subarray(k));
    }
    return out;
  }

  /** The next chunk of whatever follows, or undefined at the end. */
  async next(): Promise<Uint8Array | undefined> {
    const p = this.#pending;
    this.#pending = undefined;
    const c = p ?? (await this.#stream.read());
    if (c) this.#consumed += c.length;
    return c;
  }

  #keep(rest: Uint8Array): void {
    // The leftover of a file chunk points into the reused read buffer, which the next read overwrites; nothing is
    // read before the leftover is consumed, so keeping the view is safe.
    if (rest.length) this.#pending = rest;
  }

  close(): Promise<void> {
    return this.#stream.close();
  }
}

/**
 * Reads all of `source` into one array (bytes and ArrayBuffers are returned as they are).
 * @throws {WeightsFormatError} as {@link openByteStream}, or the stream failed
 */
export async function readSourceBytes(source: WeightsSource): Promise<Uint8Array> {
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return bytesOf(source);
  const stream = await openByteStream(source);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (let c = await stream.read(); c; c = await stream.read()) {
      chunks.push(c.slice());
      total += c.length;
    }
  } finally {
    await stream.close();
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
