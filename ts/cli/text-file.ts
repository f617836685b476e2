/**
 * Reading the text files the CLI is given (`tnn eval FILE`), with a typed error of their own: a missing text is not
 * a broken model.
 * @module
 */
import { readFileSync } from "node:fs";
import { TnnError } from "../core/errors.js";

/** A text file given on the command line does not exist or cannot be read (exit status 1). */
export class TextFileError extends TnnError {}

/**
 * The bytes of `path`.
 * @throws {TextFileError} no such file, a directory, or unreadable; the message names the path as given
 */
export function readTextFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : code === "EACCES" ? "permission denied" : (e as Error).message;
    throw new TextFileError(`cannot read the text file ${path}: ${why}`);
  }
}
