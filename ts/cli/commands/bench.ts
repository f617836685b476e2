/**
 * `tnn bench`: prefill and decode throughput of a model on this machine.
 * @module
 */
import { DECODE_MODES, type DecodeMode } from "../../generate/decode-mode.js";
import { Xoshiro128 } from "../../generate/prng.js";
import { type FlagSpecs, formatFlags, parseArgs } from "../args.js";
import { formatConditions, startConditions } from "../conditions.js";
import { type CliIO } from "../io.js";
import { loadModelFiles, modelFiles } from "../model-files.js";
import { UsageError } from "../usage-error.js";
import { MODEL_FLAGS, dtypeFlag, fmt, markdownTable, requireCausalLM } from "./common.js";

const FLAGS: FlagSpecs = {
  "prompt-length": { type: "int", min: 1, max: 2 ** 20, meta: "N", help: "prompt tokens for the prefill (default 512)" },
  "new-tokens": { type: "int", min: 1, max: 2 ** 20, meta: "N", help: "decode steps after the prompt (default 256)" },
  mode: { type: "string", meta: "MODE", help: "decode mode: online (default), naive or etsc" },
  json: { type: "boolean", help: "print JSON" },
  ...MODEL_FLAGS,
};

export const BENCH_HELP = `Usage: tnn bench [options]

Measures prefill (the prompt through the FFT path) and decode (one token per step) throughput on random
tokens. Prints a table on stdout, headed by the conditions it was measured under: runtime and engine
version, wasm build (relaxed, simd or scalar) and threads, cores and CPU, and the load average before and after.

${formatFlags(FLAGS)}
`;

/** Quantile of sorted samples (nearest rank). */
function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Runs `tnn bench`. Returns the exit status. */
export async function benchCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS);
  if (positionals.length > 0) throw new UsageError(`bench takes no arguments, got "${positionals[0]}"`);
  const mode = (flags.mode as string | undefined) ?? "online";
  if (!DECODE_MODES.includes(mode as DecodeMode)) throw new UsageError(`--mode must be one of ${DECODE_MODES.join(", ")}, got "${mode}"`);
  const promptLength = (flags["prompt-length"] as number | undefined) ?? 512;
  const newTokens = (flags["new-tokens"] as number | undefined) ?? 256;
  const files = modelFiles(flags.model as string | undefined, flags.config as string | undefined, flags.dict as string | undefined);
  const dtype = dtypeFlag(flags);
  const model = requireCausalLM(await loadModelFiles(files, { dtype, threads: flags.threads as number | undefined }), "bench");
  try {
    const conditions = startConditions();
    const rng = new Xoshiro128(1);
    const ids = Int32Array.from({ length: promptLength + newTokens }, () => rng.nextUint32() % model.vocabSize);
    const prompt = ids.subarray(0, promptLength);

    // Warm-up: JIT, plans, coefficient caches and kernels of this length.
    model.forward(prompt, { lastOnly: true }).dispose();
    let t0 = performance.now();
    model.forward(prompt, { lastOnly: true }).dispose();
    const forwardS = (performance.now() - t0) / 1000;

    const dec = model.decoder({ mode: mode as DecodeMode, maxLength: promptLength + newTokens });
    try {
      t0 = performance.now();
      dec.prefill(prompt);
      const prefillS = (performance.now() - t0) / 1000;
      const steps: number[] = [];
      for (let i = 0; i < newTokens; i++) {
        if (io.signal?.aborted) break;
        const s = performance.now();
        dec.step(ids[promptLength + i]!);
        steps.push(performance.now() - s);
      }
      const total = steps.reduce((a, b) => a + b, 0) / 1000;
      const sorted = [...steps].sort((a, b) => a - b);
      const result = {
        model: files.weights,
        mode,
        promptLength,
        newTokens: steps.length,
        forwardTokensPerSecond: promptLength / forwardS,
        prefillTokensPerSecond: promptLength / prefillS,
        decodeTokensPerSecond: steps.length / total,
        stepMsP50: quantile(sorted, 0.5),
        stepMsP99: quantile(sorted, 0.99),
        stateBytes: dec.memoryBytes,
        dtype: dtype ?? "float32",
        conditions: conditions.finish(),
      };
      if (flags.json) {
        io.out(JSON.stringify(result, null, 2) + "\n");
      } else {
        io.out(`model: ${files.weights}, ${result.dtype} weights, ${promptLength}-token prompt, ${steps.length} decode steps (${mode})\n`);
        io.out(`measured on: ${formatConditions(result.conditions)}\n\n`);
        io.out(markdownTable(["measure", "value"], [
          ["forward (prompt, FFT path)", `${fmt(result.forwardTokensPerSecond, 0)} tokens/s`],
          ["prefill (forward + state seeding)", `${fmt(result.prefillTokensPerSecond, 0)} tokens/s`],
          [`decode (${mode}, ${promptLength}..${promptLength + steps.length})`, `${fmt(result.decodeTokensPerSecond, 1)} tokens/s`],
          ["step latency p50", `${fmt(result.stepMsP50, 3)} ms`],
          ["step latency p99", `${fmt(result.stepMsP99, 3)} ms`],
          ["decode state", `${(result.stateBytes / 2 ** 20).toFixed(2)} MiB`],
        ]));
      }
      return io.signal?.aborted ? 130 : 0;
    } finally {
      dec.dispose();
    }
  } finally {
    model.dispose();
  }
}
