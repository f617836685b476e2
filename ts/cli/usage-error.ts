/**
 * The command line was wrong (unknown command or flag, missing or malformed value). The CLI exits with status 2.
 * @module
 */
import { TnnError } from "../core/errors.js";

/** A command-line usage mistake; `tnn` prints it with a hint and exits with status 2. */
export class UsageError extends TnnError {}
