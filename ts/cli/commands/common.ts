/**
 * Flags shared by the commands that load a model.
 * @module
 */
import { type FlagSpecs } from "../args.js";
import { type CausalLM } from "../../generate/causal-lm.js";
import { CausalLM as CausalLMClass } from "../../generate/causal-lm.js";
import { type LoadedModel } from "../../generate/load.js";
import { UsageError } from "../usage-error.js";

/** `--model`, `--config`, `--dict`, `--dtype`. */
export const MODEL_FLAGS: FlagSpecs = {
  model: { type: "string", meta: "MODEL", help: "model directory (model.safetensors + config.json), .safetensors file, or a shipped model's name; default: kjv-byte" },
  config: { type: "string", meta: "FILE", help: "config.json to use instead of the one beside the weights" },
  dict: { type: "string", meta: "FILE", help: "fairseq dict.txt mapping GPT-2 BPE ids to model ids (official checkpoints)" },
  dtype: { type: "string", meta: "T", help: "storage of the weight matrices: float32 (default), float16 or int8" },
  threads: { type: "int", min: 1, max: 64, meta: "N", help: "kernel threads, this one included (default: one per core, at most 8; 1: single-threaded)" },
};

/** The `--dtype` flag, checked. */
export function dtypeFlag(flags: Record<string, unknown>): "float32" | "float16" | "int8" | undefined {
  const d = flags.dtype as string | undefined;
  if (d !== undefined && d !== "float32" && d !== "float16" && d !== "int8") {
    throw new UsageError(`--dtype must be float32, float16 or int8, got ${d}`);
  }
  return d;
}

/** The model as a causal LM, or a usage error naming the command. */
export function requireCausalLM(model: LoadedModel, command: string): CausalLM {
  if (!(model instanceof CausalLMClass)) {
    model.dispose();
    throw new UsageError(`${command} needs a causal language model (decoder.* weights); this is a bidirectional encoder`);
  }
  return model;
}

/** Formats a number with a fixed count of significant decimals for tables. */
export function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

/** Markdown table from a header and rows. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padStart(w[i]!)).join(" | ")} |`;
  return [line(header), `| ${w.map((n) => "-".repeat(Math.max(n - 1, 1)) + ":").join(" | ")} |`, ...rows.map(line)].join("\n") + "\n";
}
