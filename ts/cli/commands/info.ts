/**
 * `tnn info [MODEL]`: the config, parameter count and storage dtype of a model.
 * @module
 */
import { statSync } from "node:fs";
import { CausalLM } from "../../generate/causal-lm.js";
import { configToJSON } from "../../models/config.js";
import { readSafetensorsHeaderOf } from "../../models/safetensors.js";
import { type FlagSpecs, formatFlags, parseArgs } from "../args.js";
import { type CliIO } from "../io.js";
import { loadModelFiles, modelFiles } from "../model-files.js";
import { UsageError } from "../usage-error.js";
import { MODEL_FLAGS } from "./common.js";

const FLAGS: FlagSpecs = {
  json: { type: "boolean", help: "print JSON" },
  config: MODEL_FLAGS.config!,
  dict: MODEL_FLAGS.dict!,
};

export const INFO_HELP = `Usage: tnn info [options] [MODEL]

Prints the config, parameter count and weight dtype of MODEL (a directory, a .safetensors file, or the name
of a shipped model; default: the shipped kjv-byte).

${formatFlags(FLAGS)}
`;

/** Tensors that hold no parameters, and tied copies that PyTorch counts once. */
const NOT_PARAMETERS = /(^|\.)version$/;
const TIED_COPIES = new Set(["decoder.output_projection.weight", "encoder.lm_head.weight"]);

/** Runs `tnn info`. Returns the exit status. */
export async function infoCommand(argv: readonly string[], io: CliIO): Promise<number> {
  const { positionals, flags } = parseArgs(argv, FLAGS);
  if (positionals.length > 1) throw new UsageError(`info takes at most one MODEL, got ${positionals.length}`);
  const files = modelFiles(positionals[0], flags.config as string | undefined, flags.dict as string | undefined);
  // Loading checks the config against every tensor; the counts come from the file itself.
  const model = await loadModelFiles(files);
  try {
    const file = await readSafetensorsHeaderOf(files.weights);
    let parameters = 0;
    // The decays λ are stored as parameters but frozen (never trained); PyTorch's trainable count leaves them out.
    let frozen = 0;
    const dtypes = new Map<string, number>();
    for (const name of file.names()) {
      const t = file.get(name)!;
      if (NOT_PARAMETERS.test(name)) continue;
      const size = t.shape.reduce((a, b) => a * b, 1);
      dtypes.set(t.dtype, (dtypes.get(t.dtype) ?? 0) + size);
      if (!TIED_COPIES.has(name)) parameters += size;
      if (name.endsWith(".toep.gamma")) frozen += size;
    }
    const tokenizer = "tokenizer" in model ? model.tokenizer?.name ?? "none" : "none";
    // The decay windows and what a windowed decoder holds (state of one sequence plus the shared kernels).
    let decoding: { windows: number[]; windowedStateBytes: number | null } | undefined;
    if (model instanceof CausalLM) {
      const windows = model.body.layers.map((l) => l.tno.window);
      let windowedStateBytes: number | null = null;
      if (windows.every(Number.isFinite)) {
        const dec = model.decoder({ maxLength: Math.max(...windows) });
        try {
          windowedStateBytes = dec.memoryBytes + model.body.layers.reduce((s, l) => s + (l.tno.windowKernel()?.memoryBytes ?? 0), 0);
        } finally {
          dec.dispose();
        }
      }
      decoding = { windows, windowedStateBytes };
    }
    const info = {
      weights: files.weights,
      config: configToJSON(model.config),
      kind: "tokenizer" in model ? "causal LM" : "encoder",
      parameters,
      frozenParameters: frozen,
      dtypes: Object.fromEntries(dtypes),
      bytes: statSync(files.weights).size,
      tokenizer,
      ...(decoding ? { decayWindows: decoding.windows.map((w) => (Number.isFinite(w) ? w : null)), windowedDecodeBytes: decoding.windowedStateBytes } : {}),
    };
    if (flags.json) {
      io.out(JSON.stringify(info, null, 2) + "\n");
      return 0;
    }
    const dt = [...dtypes].map(([k, n]) => `${k} (${n.toLocaleString("en-US")} values)`).join(", ");
    io.out(
      `weights     ${info.weights}\n` +
        `kind        ${info.kind}\n` +
        `parameters  ${parameters.toLocaleString("en-US")} (${(parameters / 1e6).toFixed(2)} M; ${frozen.toLocaleString("en-US")} of them the frozen decays λ)\n` +
        `dtype       ${dt}\n` +
        `file size   ${(info.bytes / 2 ** 20).toFixed(2)} MiB\n` +
        `tokenizer   ${tokenizer}\n` +
        (decoding
          ? `windows     ${decoding.windows.map((w) => (Number.isFinite(w) ? String(w) : "none")).join(", ")} (per layer: lags past which the kernel is below float32 resolution)\n` +
            (decoding.windowedStateBytes !== null
              ? `decoding    ${(decoding.windowedStateBytes / 2 ** 20).toFixed(1)} MiB of state and kernels at any context past the longest window\n`
              : `decoding    full history (no decay): memory grows with the context\n`)
          : "") +
        `config      ${JSON.stringify(info.config, null, 2).replace(/\n/g, "\n            ")}\n`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}
