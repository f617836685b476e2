/**
 * The `tnn` CLI in-process: argument parsing, exit codes, one-line errors, and each command on a small random
 * byte-level model written to a temporary directory.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendInfo } from "../ts/core/wasm.js";
import { parseArgs } from "../ts/cli/args.js";
import { sumNegLogLikelihood } from "../ts/cli/eval-metrics.js";
import { type CliIO } from "../ts/cli/io.js";
import { withDecay } from "../ts/cli/model-files.js";
import { parseSafetensors } from "../ts/models/safetensors.js";
import { EXIT, main } from "../ts/cli/tnn.js";
import { UsageError } from "../ts/cli/usage-error.js";
import { lmConfig, randomStateDict } from "./helpers/random-state-dict.js";
import { writeSafetensors } from "./helpers/safetensors-writer.js";

/** An IO that records what the CLI writes. */
function capture(signal?: AbortSignal): CliIO & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    errIsTTY: false,
    signal,
    out(t: string) {
      io.stdout += t;
    },
    err(t: string) {
      io.stderr += t;
    },
  };
  return io;
}

async function run(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = capture();
  const code = await main(argv, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

const CONFIG = lmConfig({ vocab_size: 256, d_model: 16, n_layers: 2, glu_dim: 16, rpe_dim: 8 });
let dir: string;
let textFile: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tnn-cli-"));
  writeFileSync(join(dir, "model.safetensors"), writeSafetensors(randomStateDict(CONFIG, 5)));
  writeFileSync(join(dir, "config.json"), JSON.stringify(CONFIG));
  textFile = join(dir, "text.txt");
  writeFileSync(textFile, "In the beginning God created the heaven and the earth. ".repeat(40));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parseArgs", () => {
  const specs = {
    n: { type: "int", min: 0, help: "" },
    t: { type: "number", min: 0, help: "" },
    s: { type: "string", help: "" },
    flag: { type: "boolean", help: "" },
    l: { type: "int-list", min: 1, help: "" },
  } as const;

  it("reads every form of flag and keeps positionals in order", () => {
    const r = parseArgs(["a", "--n", "3", "--t=0.5", "b", "--flag", "--s", "x y", "--l", "1,2,30", "--", "--n"], specs);
    expect(r.positionals).toEqual(["a", "b", "--n"]);
    expect(r.flags).toEqual({ n: 3, t: 0.5, flag: true, s: "x y", l: [1, 2, 30] });
    expect(parseArgs(["--no-flag"], specs).flags).toEqual({ flag: false });
    expect(parseArgs(["-5"], specs).positionals).toEqual(["-5"]);
  });

  it("rejects unknown flags, missing and malformed values, out-of-range numbers", () => {
    const bad = [["--x"], ["--n"], ["--n", "--t", "1"], ["--n", "1.5"], ["--n", "-1"], ["--t", "NaN"], ["--t", "1e"], ["--l", "1,,2"],
      ["--l", "0"], ["--flag=maybe"], ["--n", "1", "--n", "2"], ["-x"], ["--s="]];
    for (const argv of bad) expect(() => parseArgs(argv, specs), argv.join(" ")).toThrow(UsageError);
  });
});

describe("sumNegLogLikelihood", () => {
  it("is -log softmax(target) summed over rows", () => {
    const logits = Float32Array.from([1, 2, 3, 0.5, -1, 4]);
    const p0 = Math.exp(2) / (Math.exp(1) + Math.exp(2) + Math.exp(3));
    const p1 = Math.exp(0.5) / (Math.exp(0.5) + Math.exp(-1) + Math.exp(4));
    expect(sumNegLogLikelihood(logits, 3, [1, 0])).toBeCloseTo(-Math.log(p0) - Math.log(p1), 6);
    // Large logits do not overflow.
    expect(sumNegLogLikelihood(Float32Array.from([1000, 0]), 2, [0])).toBeCloseTo(0, 6);
  });
});

describe("tnn: usage and exit codes", () => {
  it("prints help with status 0, and usage with status 2 when no command is given", async () => {
    const help = await run("--help");
    expect(help.code).toBe(EXIT.ok);
    expect(help.stdout).toContain("Usage: tnn <command>");
    const none = await run();
    expect(none.code).toBe(EXIT.usage);
    expect(none.stderr).toContain("Usage: tnn <command>");
    for (const c of ["generate", "eval", "bench", "info"]) {
      const r = await run("help", c);
      expect(r.code).toBe(EXIT.ok);
      expect(r.stdout).toContain(`Usage: tnn ${c}`);
      expect((await run(c, "--help")).stdout).toContain(`Usage: tnn ${c}`);
    }
    expect((await run("--version")).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("exits 2 with one line on stderr for usage mistakes", async () => {
    const cases = [
      ["frobnicate"],
      ["help", "frobnicate"],
      ["generate"],
      ["generate", "a", "b"],
      ["generate", "x", "--top-k", "-1"],
      ["generate", "x", "--temperature", "NaN"],
      ["generate", "x", "--top-p", "0"],
      ["generate", "x", "--mode", "fast"],
      ["generate", "x", "--max-token", "5"],
      ["eval", "a", "b"],
      ["eval", "--model", dir],
      ["eval", "f", "--lengths", "512,abc"],
      ["bench", "extra"],
      ["info", "a", "b"],
    ];
    for (const argv of cases) {
      const r = await run(...argv);
      expect(r.code, argv.join(" ")).toBe(EXIT.usage);
      expect(r.stdout, argv.join(" ")).toBe("");
      expect(r.stderr.trimEnd().split("\n"), argv.join(" ")).toHaveLength(1);
    }
  });

  it("exits 1 with one line on stderr for runtime errors", async () => {
    for (const argv of [
      ["info", join(dir, "missing")],
      ["generate", "x", "--model", join(dir, "missing")],
      ["eval", join(dir, "no-such-file.txt"), "--model", dir],
      ["info", textFile],
    ]) {
      const r = await run(...argv);
      expect(r.code, argv.join(" ")).toBe(EXIT.error);
      expect(r.stderr.trimEnd().split("\n"), argv.join(" ")).toHaveLength(1);
    }
  });

  it("names what is missing: a text file as TextFileError, a model as ModelFileError listing the shipped models", async () => {
    const text = await run("eval", join(dir, "no-such-file.txt"), "--model", dir);
    expect(text.stderr).toMatch(/^tnn eval: TextFileError: cannot read the text file .*no-such-file\.txt: no such file\n$/);
    const model = await run("info", "no-such-model");
    expect(model.stderr).toMatch(/^tnn info: ModelFileError: no such model: .*"no-such-model" is not a shipped model \(shipped: kjv-byte\)\n$/);
    expect((await run("eval", dir, "--model", dir)).stderr).toMatch(/TextFileError: .*it is a directory/);
  });

  it("rejects --max-tokens beyond the model's limit as a usage error", async () => {
    // A decayed model's state stops growing past its window, so its limit is 2^26 tokens, not 65,536.
    const r = await run("generate", "x", "--model", dir, "--max-tokens", String(2 ** 26));
    expect(r.code).toBe(EXIT.usage);
    expect(r.stderr).toContain("exceeds the model's limit of 67108864 tokens");
  });
});

describe("tnn commands", () => {
  it("generate streams the prompt and a continuation; the same seed gives the same text", async () => {
    const a = await run("generate", "In the", "--model", dir, "--max-tokens", "30", "--seed", "4");
    expect(a.code).toBe(EXIT.ok);
    expect(a.stdout.startsWith("In the")).toBe(true);
    const b = await run("generate", "In the", "--model", dir, "--max-tokens", "30", "--seed", "4");
    expect(b.stdout).toBe(a.stdout);
    const quiet = await run("generate", "In the", "--model", dir, "--max-tokens", "30", "--seed", "4", "--no-echo", "--mode", "naive");
    expect("In the" + quiet.stdout).toBe(a.stdout);
  });

  it("eval prints a row per length with bits per byte; --json gives the same numbers", async () => {
    const r = await run("eval", textFile, "--model", dir, "--lengths", "64,128", "--json");
    expect(r.code).toBe(EXIT.ok);
    const j = JSON.parse(r.stdout) as { tokens: number; results: { length: number; windows: number; tokens: number; bitsPerByte: number; perplexity: number }[] };
    expect(j.tokens).toBe(readFileSync(textFile).length);
    expect(j.results.map((x) => x.length)).toEqual([64, 128]);
    for (const x of j.results) {
      expect(x.windows).toBe(Math.floor((j.tokens - 1) / x.length));
      expect(x.tokens).toBe(x.windows * x.length);
      // A byte-level model: bits per byte and perplexity per byte describe the same cross-entropy.
      expect(x.perplexity).toBeCloseTo(2 ** x.bitsPerByte, 6);
      expect(x.bitsPerByte).toBeGreaterThan(0);
      expect(x.bitsPerByte).toBeLessThan(12);
    }
    expect(r.stderr).toContain("context 64");
    const table = await run("eval", textFile, "--model", dir, "--lengths", "64", "--max-windows", "2");
    expect(table.code).toBe(EXIT.ok);
    expect(table.stdout).toMatch(/\|\s+64 \|\s+2 \|\s+128 \|/);
  });

  it("eval without FILE reads the heldout.txt beside the model's weights", async () => {
    const own = mkdtempSync(join(tmpdir(), "tnn-cli-heldout-"));
    try {
      for (const f of ["model.safetensors", "config.json"]) writeFileSync(join(own, f), readFileSync(join(dir, f)));
      const heldout = "And the evening and the morning were the first day. ".repeat(7);
      writeFileSync(join(own, "heldout.txt"), heldout);
      const r = await run("eval", "--model", own, "--lengths", "64", "--json");
      expect(r.code).toBe(EXIT.ok);
      const j = JSON.parse(r.stdout) as { file: string; tokens: number };
      expect(j.file).toBe(join(own, "heldout.txt"));
      expect(j.tokens).toBe(heldout.length);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it("eval --gamma replaces the decay of every channel (the no-decay control)", async () => {
    const bytes = readFileSync(join(dir, "model.safetensors"));
    const file = parseSafetensors(withDecay(bytes, 1));
    const gammas = file.names().filter((n) => n.endsWith("toep.gamma"));
    expect(gammas).toHaveLength(CONFIG.n_layers);
    for (const n of gammas) {
      const t = file.get(n)!;
      expect([...new Float32Array(Uint8Array.from(t.bytes).buffer)].every((g) => g === 1)).toBe(true);
    }
    // The original bytes are untouched.
    expect(parseSafetensors(bytes).get(gammas[0]!)!.bytes).not.toEqual(file.get(gammas[0]!)!.bytes);
    const base = JSON.parse((await run("eval", textFile, "--model", dir, "--lengths", "256", "--json")).stdout);
    const flat = JSON.parse((await run("eval", textFile, "--model", dir, "--lengths", "256", "--json", "--gamma", "1")).stdout);
    expect(flat.gamma).toBe(1);
    expect(flat.results[0].bitsPerByte).not.toBeCloseTo(base.results[0].bitsPerByte, 6);
    expect((await run("eval", textFile, "--model", dir, "--gamma", "0")).code).toBe(EXIT.usage);
  });

  it("bench reports prefill and decode throughput", async () => {
    const r = await run("bench", "--model", dir, "--prompt-length", "64", "--new-tokens", "32", "--json");
    expect(r.code).toBe(EXIT.ok);
    const j = JSON.parse(r.stdout) as Record<string, number>;
    expect(j.newTokens).toBe(32);
    for (const k of ["forwardTokensPerSecond", "prefillTokensPerSecond", "decodeTokensPerSecond", "stepMsP50", "stepMsP99", "stateBytes"]) {
      expect(j[k], k).toBeGreaterThan(0);
    }
    expect(j.stepMsP99).toBeGreaterThanOrEqual(j.stepMsP50!);
  });

  it("bench states what it measured on: runtime, wasm build, cores, CPU and the load average before and after", async () => {
    const args = ["bench", "--model", dir, "--prompt-length", "16", "--new-tokens", "4"];
    const j = JSON.parse((await run(...args, "--json")).stdout) as { conditions: Record<string, unknown> };
    const c = j.conditions;
    expect(c.runtime).toBe(`node ${process.versions.node}`);
    expect(c.engine).toBe(`V8 ${process.versions.v8}`);
    expect(c.build).toBe(backendInfo()!.build);
    expect(c.cores).toBe(availableParallelism());
    expect(c.cpu).toBe(cpus()[0]!.model.trim());
    for (const k of ["loadAverageBefore", "loadAverageAfter"]) {
      expect((c[k] as number[]).length, k).toBe(3);
      for (const x of c[k] as number[]) expect(x).toBeGreaterThanOrEqual(0);
    }
    const table = await run(...args);
    expect(table.code).toBe(EXIT.ok);
    const onLine = table.stdout.split("\n").find((l) => l.startsWith("measured on: "));
    expect(onLine).toContain(`node ${process.versions.node}`);
    expect(onLine).toContain(`wasm ${backendInfo()!.build} build`);
    expect(onLine).toContain(`${availableParallelism()} core`);
    expect(onLine).toMatch(/load average \(1, 5, 15 min\) [\d.]+ [\d.]+ [\d.]+ before, [\d.]+ [\d.]+ [\d.]+ after/);
  });

  it("info prints the config and the parameter count", async () => {
    const r = await run("info", dir, "--json");
    expect(r.code).toBe(EXIT.ok);
    const j = JSON.parse(r.stdout) as { parameters: number; frozenParameters: number; config: { d_model: number }; tokenizer: string; dtypes: Record<string, number> };
    // Counted from the architecture: embedding (tied head counted once), per layer GTU + RPE + gamma + GLU, final LayerNorm.
    const { d_model: d, vocab_size: V, rpe_dim: e, rpe_layers: R, glu_dim: g, n_layers: L } = CONFIG;
    const d1 = 3 * d;
    const layer = 2 * (d1 * d + d1) + (d * d1 + d) + d1 + (2 * e + R * (e * e + e) + d1 * e + d1) + 2 * (g * d + g) + (d * g + d);
    expect(j.parameters).toBe(V * d + L * layer + 2 * d);
    expect(j.frozenParameters).toBe(L * d1);
    expect(j.config.d_model).toBe(16);
    expect(j.tokenizer).toBe("byte");
    expect(Object.keys(j.dtypes)).toEqual(["F32"]);
    const text = await run("info", dir);
    expect(text.stdout).toContain("parameters");
  });
});

// The built command (`npm run build` writes dist/cli.js; `npm test` builds first): one run end to end as a process.
const CLI = new URL("../dist/cli.js", import.meta.url).pathname;
describe.skipIf(!existsSync(CLI))("dist/cli.js as a process", () => {
  it("generates the same text as the in-process CLI, with exit status 0", async () => {
    const args = ["generate", "In the", "--model", dir, "--max-tokens", "20", "--seed", "9"];
    const p = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
    expect(p.stderr).toBe("");
    expect(p.status).toBe(EXIT.ok);
    expect(p.stdout).toBe((await run(...args)).stdout);
  });

  it("exits 2 with one line on stderr for a usage error, 1 for a missing model", () => {
    const usage = spawnSync(process.execPath, [CLI, "generate", "--top-k", "x"], { encoding: "utf8" });
    expect(usage.status).toBe(EXIT.usage);
    expect(usage.stderr.trimEnd().split("\n")).toHaveLength(1);
    const missing = spawnSync(process.execPath, [CLI, "info", join(dir, "nope")], { encoding: "utf8" });
    expect(missing.status).toBe(EXIT.error);
    expect(missing.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

// The model shipped in models/kjv-byte (trained by tools/train.py): loads by default and predicts held-out text.
describe("the shipped model", () => {
  const heldout = new URL("../models/kjv-byte/heldout.txt", import.meta.url).pathname;

  it("is named kjv-byte on the command line, from any working directory", async () => {
    const r = await run("info", "kjv-byte", "--json");
    expect(r.code).toBe(EXIT.ok);
    expect((JSON.parse(r.stdout) as { weights: string }).weights).toBe(new URL("../models/kjv-byte/model.safetensors", import.meta.url).pathname);
  });

  it("is the default model of info: a byte-level causal LM", async () => {
    const r = await run("info", "--json");
    expect(r.code).toBe(EXIT.ok);
    const j = JSON.parse(r.stdout) as { config: { vocab_size: number; causal: boolean }; tokenizer: string; kind: string };
    expect(j.config.vocab_size).toBe(256);
    expect(j.kind).toBe("causal LM");
    expect(j.tokenizer).toBe("byte");
  });

  it("predicts held-out text far better than chance (8 bits per byte)", async () => {
    const r = await run("eval", heldout, "--lengths", "512", "--max-windows", "16", "--json");
    expect(r.code).toBe(EXIT.ok);
    const bpb = (JSON.parse(r.stdout) as { results: { bitsPerByte: number }[] }).results[0]!.bitsPerByte;
    // tools/train.py measured about 1.6 bits per byte on this split; a mis-bound weight gives ~8 or worse.
    expect(bpb).toBeLessThan(2);
  });

  it("generates English-like text greedily from the README prompt", async () => {
    const r = await run("generate", "In the beginning", "--max-tokens", "60", "--temperature", "0");
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout.startsWith("In the beginning")).toBe(true);
    const words = r.stdout.split(/\s+/).filter((w) => /^[A-Za-z]+[,.;:]?$/.test(w));
    expect(words.length).toBeGreaterThan(6);
  });
});
