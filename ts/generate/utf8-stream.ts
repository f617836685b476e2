/**
 * Turning a stream of token bytes into text without ever emitting half of a multi-byte character.
 * @module
 */

/**
 * Incremental UTF-8 decoder: bytes of a character split over two tokens come out together once the character is
 * complete. Invalid sequences become U+FFFD, as `TextDecoder` does.
 */
export class Utf8Stream {
  readonly #decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  /** Text completed by `bytes`; the bytes of an unfinished character are kept for the next call. */
  push(bytes: Uint8Array): string {
    return this.#decoder.decode(bytes, { stream: true });
  }

  /** Ends the stream: an unfinished character at the end becomes U+FFFD. */
  flush(): string {
    return this.#decoder.decode();
  }
}
