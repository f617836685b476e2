/**
 * A small, strict command-line parser: every flag is declared with its type, unknown flags and malformed values are
 * usage errors rather than silently ignored.
 * @module
 */
import { UsageError } from "./usage-error.js";

/** How a flag's value is read. */
export type FlagType = "string" | "int" | "number" | "boolean" | "int-list";

/** One declared flag. */
export interface FlagSpec {
  readonly type: FlagType;
  /** One line for `--help`. */
  readonly help: string;
  /** Smallest allowed value (numbers, and each element of a list). */
  readonly min?: number;
  /** Largest allowed value. */
  readonly max?: number;
  /** Value name shown in help, e.g. `N`. */
  readonly meta?: string;
}

/** The flags of one command, by long name without the dashes. */
export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** A flag's parsed value. */
export type FlagValue = string | number | boolean | number[];

/** What {@link parseArgs} returns. */
export interface ParsedArgs {
  readonly positionals: string[];
  readonly flags: Record<string, FlagValue>;
}

/**
 * Parses `argv` (without the command name) against `specs`. Accepts `--name value`, `--name=value`, `--flag` for
 * booleans (and `--no-flag`), and `--` to end flags.
 * @throws {UsageError} unknown flag, missing or malformed value, value out of range
 */
export function parseArgs(argv: readonly string[], specs: FlagSpecs): ParsedArgs {
  const positionals: string[] = [];
  const flags: Record<string, FlagValue> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) throw new UsageError(`unknown option ${arg}`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    let spec = specs[name];
    if (!spec && name.startsWith("no-") && specs[name.slice(3)]?.type === "boolean" && inline === undefined) {
      name = name.slice(3);
      spec = specs[name];
      inline = "false";
    }
    if (!spec) {
      const known = Object.keys(specs).map((k) => `--${k}`).join(", ");
      throw new UsageError(`unknown option --${name}${known ? `; expected one of ${known}` : ""}`);
    }
    if (name in flags) throw new UsageError(`option --${name} given twice`);
    let raw: string;
    if (spec.type === "boolean") {
      raw = inline ?? "true";
    } else if (inline !== undefined) {
      raw = inline;
    } else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("--") && next.length > 2)) throw new UsageError(`option --${name} needs a value (${spec.meta ?? spec.type})`);
      raw = next;
      i++;
    }
    flags[name] = readValue(name, spec, raw);
  }
  return { positionals, flags };
}

function readValue(name: string, spec: FlagSpec, raw: string): FlagValue {
  switch (spec.type) {
    case "string":
      if (raw === "") throw new UsageError(`option --${name} needs a non-empty value`);
      return raw;
    case "boolean":
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      throw new UsageError(`option --${name} takes true or false, got "${raw}"`);
    case "int":
    case "number":
      return readNumber(name, spec, raw, spec.type === "int");
    case "int-list": {
      const parts = raw.split(",").map((s) => s.trim());
      if (parts.some((p) => p === "")) throw new UsageError(`option --${name} takes comma-separated integers, got "${raw}"`);
      return parts.map((p) => readNumber(name, spec, p, true));
    }
  }
}

function readNumber(name: string, spec: FlagSpec, raw: string, integer: boolean): number {
  const pattern = integer ? /^[+-]?\d+$/ : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
  const x = Number(raw);
  if (!pattern.test(raw.trim()) || !Number.isFinite(x) || (integer && !Number.isSafeInteger(x))) {
    throw new UsageError(`option --${name} takes ${integer ? "an integer" : "a number"}, got "${raw}"`);
  }
  if (spec.min !== undefined && x < spec.min) throw new UsageError(`option --${name} must be >= ${spec.min}, got ${raw}`);
  if (spec.max !== undefined && x > spec.max) throw new UsageError(`option --${name} must be <= ${spec.max}, got ${raw}`);
  return x;
}

/** Help lines for a set of flags, aligned. */
export function formatFlags(specs: FlagSpecs): string {
  const rows = Object.entries(specs).map(([k, s]) => [`  --${k}${s.type === "boolean" ? "" : ` ${s.meta ?? s.type.toUpperCase()}`}`, s.help] as const);
  const w = Math.max(0, ...rows.map((r) => r[0].length));
  return rows.map(([a, b]) => `${a.padEnd(w)}  ${b}`).join("\n");
}
