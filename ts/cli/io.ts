/**
 * Where the CLI writes: injected so commands can run in-process under test, with Node's streams in real use.
 * @module
 */

/** Output channels of one CLI run. */
export interface CliIO {
  /** Results (generated text, tables, JSON). */
  out(text: string): void;
  /** Progress and errors. */
  err(text: string): void;
  /** Whether stderr is a terminal (progress bars redraw in place only there). */
  readonly errIsTTY: boolean;
  /** Aborted on Ctrl-C, so long commands stop cleanly between steps. */
  readonly signal?: AbortSignal;
}

/** The process's own stdout/stderr. Writes after the reader went away (`| head`) are dropped quietly. */
export function processIO(signal?: AbortSignal): CliIO {
  let stdoutClosed = false;
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") stdoutClosed = true;
    else throw e;
  });
  return {
    out: (t) => {
      if (!stdoutClosed) process.stdout.write(t);
    },
    err: (t) => void process.stderr.write(t),
    errIsTTY: Boolean(process.stderr.isTTY),
    signal,
  };
}
