/**
 * `tnn generate "prompt"`: streams a continuation to stdout.
 * @module
 */
import { type FlagSpecs, formatFlags, parseArgs } from "../args.js";
import { DECODE_MODES, type DecodeMode } from "../../generate/decode-mode.js";
import { type CliIO } from "../io.js";
import { loadModelFiles, modelFiles } from "../model-files.js";
import { UsageError } from "../usage-error.js";
import { MODEL_FLAGS, dtypeFlag, requireCausalLM } from "./common.js";

const FLAGS: FlagSpecs = {
  "max-tokens": { type: "int", min: 0, meta: "N", help: "tokens to generate (default 200)" },
  temperature: { type: "number", min: 0, meta: "T", help: "sampling temperature; 0 = greedy (default 0.8)" },
  "top-k": { type: "int", min: 0, meta: "K", help: "sample among the K most likely tokens; 0 = all (default 0)" },
  "top-p": { type: "number", min: Number.MIN_VALUE, max: 1, meta: "P", help: "nucleus sampling mass in (0, 1] (default 0.95)" },
  "repetition-penalty": { type: "number", min: Number.MIN_VALUE, meta: "R", help: "penalty > 1 discourages repeating context tokens (default 1)" },
  seed: { type: "int", min: 0, meta: "S", help: "random seed; the same seed gives the same text (default: random)" },
  stop: { type: "string", meta: "STR", help: "stop when this text is generated (not printed)" },
  mode: { type: "string", meta: "MODE", help: "decode mode: online (exact, default), naive (exact, O(t)), etsc (window 512)" },
  echo: { type: "boolean", help: "print the prompt before the continuation (default true; --no-echo)" },
  ...MODEL_FLAGS,
};

export const GENERATE_HELP = `Usage: tnn generate [options] PROMPT

Streams a continuation of PROMPT to stdout.

${formatFlags(FLAGS)}
`;

/** Runs `tnn generate`. Returns the exit status. */
export async function generateCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS);
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "generate needs a PROMPT" : `generate takes one PROMPT (quote it), got ${positionals.length} arguments`);
  const prompt = positionals[0]!;
  if (prompt === "") throw new UsageError("the prompt is empty");
  const mode = (flags.mode as string | undefined) ?? "online";
  if (!DECODE_MODES.includes(mode as DecodeMode)) throw new UsageError(`--mode must be one of ${DECODE_MODES.join(", ")}, got "${mode}"`);
  const files = modelFiles(flags.model as string | undefined, flags.config as string | undefined, flags.dict as string | undefined);
  const model = requireCausalLM(await loadModelFiles(files, { dtype: dtypeFlag(flags), threads: flags.threads as number | undefined }), "generate");
  try {
    if (!model.tokenizer) throw new UsageError("this model has no known tokenizer; pass --dict for a GPT-2 BPE checkpoint");
    const maxNewTokens = (flags["max-tokens"] as number | undefined) ?? 200;
    const promptLength = model.tokenizer.encode(prompt).length;
    if (promptLength + maxNewTokens > model.maxLength) {
      throw new UsageError(`--max-tokens ${maxNewTokens} with a ${promptLength}-token prompt exceeds the model's limit of ${model.maxLength} tokens`);
    }
    if (flags.echo !== false) io.out(prompt);
    const start = performance.now();
    let firstAt = 0;
    let n = 0;
    const stream = model.generate(prompt, {
      maxNewTokens,
      temperature: (flags.temperature as number | undefined) ?? 0.8,
      topK: (flags["top-k"] as number | undefined) ?? 0,
      topP: (flags["top-p"] as number | undefined) ?? 0.95,
      repetitionPenalty: (flags["repetition-penalty"] as number | undefined) ?? 1,
      ...(flags.seed !== undefined ? { seed: flags.seed as number } : {}),
      ...(flags.stop !== undefined ? { stopStrings: [flags.stop as string] } : {}),
      mode: mode as DecodeMode,
      ...(io.signal ? { signal: io.signal } : {}),
    });
    for await (const tok of stream) {
      if (n++ === 0) firstAt = performance.now();
      if (tok.text) io.out(tok.text);
    }
    io.out("\n");
    if (io.errIsTTY && n > 1) {
      const rate = (n - 1) / ((performance.now() - firstAt) / 1000);
      io.err(`[${n} tokens, first after ${((firstAt - start) / 1000).toFixed(2)} s, then ${rate.toFixed(1)} tokens/s]\n`);
    }
    return io.signal?.aborted ? 130 : 0;
  } finally {
    model.dispose();
  }
}
