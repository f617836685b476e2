/**
 * `tnn eval FILE --lengths ...`: bits per byte and perplexity of a text at several context lengths.
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type FlagSpecs, formatFlags, parseArgs } from "../args.js";
import { type EvalRow, evaluateLength } from "../eval-metrics.js";
import { type CliIO } from "../io.js";
import { loadModelFiles, modelFiles } from "../model-files.js";
import { ProgressBar } from "../progress.js";
import { readTextFile } from "../text-file.js";
import { UsageError } from "../usage-error.js";
import { MODEL_FLAGS, dtypeFlag, fmt, markdownTable, requireCausalLM } from "./common.js";

/** The context lengths of the paper's extrapolation table. */
export const DEFAULT_EVAL_LENGTHS = [512, 1024, 2048, 4096, 8192, 14336];

const FLAGS: FlagSpecs = {
  lengths: { type: "int-list", min: 1, max: 2 ** 24, meta: "N,N,...", help: `context lengths (default ${DEFAULT_EVAL_LENGTHS.join(",")})` },
  "max-windows": { type: "int", min: 1, meta: "N", help: "evaluate at most N windows per length (default: all that fit)" },
  gamma: { type: "number", min: Number.MIN_VALUE, max: 1, meta: "G", help: "replace every channel's decay λ by G; 1 removes the decay (the control)" },
  json: { type: "boolean", help: "print JSON instead of a table" },
  ...MODEL_FLAGS,
};

/** The text a model directory may hold for evaluation: the shipped model's held-out split. */
export const HELDOUT_FILE = "heldout.txt";

export const EVAL_HELP = `Usage: tnn eval [options] [FILE]

Cross-entropy of FILE under the model at each context length, over non-overlapping windows (each window
predicts its tokens from the tokens before them in the same window). Prints bits per byte and perplexity
(per token) as a table on stdout; progress goes to stderr. Without FILE, the ${HELDOUT_FILE} beside the
model's weights: for the shipped model, its held-out split (text it never saw in training).

${formatFlags(FLAGS)}
`;

/** Runs `tnn eval`. Returns the exit status. */
export async function evalCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS);
  if (positionals.length > 1) throw new UsageError(`eval takes one FILE, got ${positionals.length}`);
  const lengths = (flags.lengths as number[] | undefined) ?? DEFAULT_EVAL_LENGTHS;
  const maxWindows = (flags["max-windows"] as number | undefined) ?? Number.MAX_SAFE_INTEGER;
  const files = modelFiles(flags.model as string | undefined, flags.config as string | undefined, flags.dict as string | undefined);
  let file = positionals[0];
  if (file === undefined) {
    const beside = join(files.dir, HELDOUT_FILE);
    if (!existsSync(beside)) throw new UsageError(`eval needs a text FILE: this model has no ${HELDOUT_FILE} beside its weights`);
    file = beside;
  }
  const bytes = readTextFile(file);
  const gamma = flags.gamma as number | undefined;
  const model = requireCausalLM(await loadModelFiles(files, { dtype: dtypeFlag(flags), threads: flags.threads as number | undefined, ...(gamma === undefined ? {} : { gamma }) }), "eval");
  try {
    const tok = model.tokenizer;
    if (!tok) throw new UsageError("this model has no known tokenizer; pass --dict for a GPT-2 BPE checkpoint");
    // Byte-level ids are the file's bytes as they are; other tokenizers read it as UTF-8 text.
    const ids = tok.name === "byte" ? Int32Array.from(bytes) : tok.encode(new TextDecoder().decode(bytes));
    const rows: EvalRow[] = [];
    for (const length of lengths) {
      if (io.signal?.aborted) break;
      const fits = Math.floor((ids.length - 1) / length);
      if (fits === 0) {
        io.err(`eval: ${file} has ${ids.length} tokens, too few for one window of ${length}; skipped\n`);
        continue;
      }
      const bar = new ProgressBar(io, `context ${length}`, Math.min(fits, maxWindows));
      rows.push(evaluateLength(model, tok, ids, length, maxWindows, (d) => bar.update(d), io.signal));
      bar.finish();
    }
    if (flags.json) {
      io.out(JSON.stringify({ file, model: files.weights, gamma: gamma ?? null, tokens: ids.length, results: rows }, null, 2) + "\n");
    } else {
      io.out(markdownTable(
        ["context", "windows", "tokens", "bits/byte", "perplexity", "seconds"],
        rows.map((r) => [String(r.length), String(r.windows), String(r.tokens), fmt(r.bitsPerByte, 4), fmt(r.perplexity, 3), fmt(r.seconds, 1)]),
      ));
    }
    return io.signal?.aborted ? 130 : 0;
  } finally {
    model.dispose();
  }
}
