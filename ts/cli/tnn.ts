/**
 * The `tnn` command: generate, eval, bench, info.
 *
 * Exit status: 0 success, 1 runtime error (unreadable or invalid model, file errors), 2 usage error (unknown command
 * or flag, bad value), 130 interrupted. Results go to stdout, progress and errors to stderr, errors as one line.
 * @module
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidOptionError, TnnError, ValueRangeError } from "../core/errors.js";
import { BENCH_HELP, benchCommand } from "./commands/bench.js";
import { EVAL_HELP, evalCommand } from "./commands/eval.js";
import { GENERATE_HELP, generateCommand } from "./commands/generate.js";
import { INFO_HELP, infoCommand } from "./commands/info.js";
import { DEFAULT_MODEL_NAME } from "./model-files.js";
import { type CliIO, processIO } from "./io.js";
import { UsageError } from "./usage-error.js";

/** Exit statuses. */
export const EXIT = { ok: 0, error: 1, usage: 2, interrupted: 130 } as const;

type Command = (argv: readonly string[], io: CliIO) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string; summary: string }> = {
  generate: { run: generateCommand, help: GENERATE_HELP, summary: "stream a continuation of a prompt" },
  eval: { run: evalCommand, help: EVAL_HELP, summary: "bits per byte and perplexity of a text at several context lengths" },
  bench: { run: benchCommand, help: BENCH_HELP, summary: "prefill and decode throughput" },
  info: { run: infoCommand, help: INFO_HELP, summary: "config, parameter count and dtype of a model" },
};

export const MAIN_HELP = `Usage: tnn <command> [options]

Toeplitz Neural Networks in WebAssembly. Commands:
${Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(9)} ${c.summary}`).join("\n")}
  help      show help for a command: tnn help <command>

A MODEL (--model, tnn info MODEL) is a directory holding model.safetensors and config.json, a .safetensors
file, or the name of a model shipped with the package: ${DEFAULT_MODEL_NAME}, the default.
Examples:
  tnn generate "In the beginning" --max-tokens 200 --seed 1
  tnn eval --lengths 512,14336             # the shipped model on its held-out text (its heldout.txt)
  tnn info ${DEFAULT_MODEL_NAME}
`;

/** The package version, from package.json beside the sources or the bundle. */
export function version(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, "..", "..", "package.json"), join(here, "..", "package.json")]) {
    if (existsSync(p)) {
      try {
        return (JSON.parse(readFileSync(p, "utf8")) as { version?: string }).version ?? "unknown";
      } catch {
        break;
      }
    }
  }
  return "unknown";
}

/** One line for any error: the message with its list of problems joined. */
export function oneLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s*\n\s*/g, "; ").trim();
}

/**
 * Runs the CLI with `argv` (the arguments after `tnn`) and returns the exit status. Never throws.
 */
export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
      const topic = name === "help" ? rest[0] : undefined;
      if (topic !== undefined) {
        const c = COMMANDS[topic];
        if (!c) throw new UsageError(`no such command "${topic}"; commands: ${Object.keys(COMMANDS).join(", ")}`);
        io.out(c.help);
      } else {
        (name === undefined ? io.err : io.out)(MAIN_HELP);
      }
      return name === undefined ? EXIT.usage : EXIT.ok;
    }
    if (name === "--version" || name === "-v") {
      io.out(`${version()}\n`);
      return EXIT.ok;
    }
    const cmd = COMMANDS[name];
    if (!cmd) throw new UsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(", ")}`);
    if (rest.includes("--help") || rest.includes("-h")) {
      io.out(cmd.help);
      return EXIT.ok;
    }
    return await cmd.run(rest, io);
  } catch (e) {
    const where = name && COMMANDS[name] ? `tnn ${name}` : "tnn";
    if (e instanceof UsageError || e instanceof InvalidOptionError || e instanceof ValueRangeError) {
      io.err(`${where}: ${oneLine(e)} (see: tnn help${name && COMMANDS[name] ? ` ${name}` : ""})\n`);
      return EXIT.usage;
    }
    const kind = e instanceof TnnError ? e.name : e instanceof Error ? e.name : "Error";
    io.err(`${where}: ${kind}: ${oneLine(e)}\n`);
    return EXIT.error;
  }
}

/** Whether this module is the program being run (not imported), following npm's bin symlinks. */
function isEntryPoint(): boolean {
  const argv1 = typeof process !== "undefined" ? process.argv[1] : undefined;
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const ac = new AbortController();
  let interrupts = 0;
  process.on("SIGINT", () => {
    // First Ctrl-C stops between steps and prints what was done; a second one quits at once.
    if (interrupts++ > 0) process.exit(EXIT.interrupted);
    ac.abort();
  });
  main(process.argv.slice(2), processIO(ac.signal)).then((code) => {
    process.exitCode = code;
  });
}
