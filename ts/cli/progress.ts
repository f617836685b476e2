/**
 * A progress bar on stderr: redrawn in place on a terminal, a few plain lines otherwise (logs stay readable).
 * @module
 */
import { type CliIO } from "./io.js";

/** Reports `done / total` for one labelled task. */
export class ProgressBar {
  readonly #io: CliIO;
  readonly #label: string;
  readonly #total: number;
  readonly #start = Date.now();
  #lastDraw = 0;
  #lastPct = -1;

  constructor(io: CliIO, label: string, total: number) {
    this.#io = io;
    this.#label = label;
    this.#total = Math.max(total, 1);
  }

  update(done: number): void {
    const frac = Math.min(done / this.#total, 1);
    const now = Date.now();
    if (this.#io.errIsTTY) {
      if (now - this.#lastDraw < 100 && done < this.#total) return;
      this.#lastDraw = now;
      const width = 30;
      const filled = Math.round(frac * width);
      const secs = ((now - this.#start) / 1000).toFixed(1);
      this.#io.err(`\r${this.#label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${secs}s`);
    } else {
      // Without a terminal: one line per quarter.
      const pct = Math.floor(frac * 4) * 25;
      if (pct > this.#lastPct) {
        this.#lastPct = pct;
        this.#io.err(`${this.#label}: ${pct}%\n`);
      }
    }
  }

  /** Completes the bar and moves to a new line. */
  finish(): void {
    this.update(this.#total);
    if (this.#io.errIsTTY) this.#io.err("\n");
  }
}
