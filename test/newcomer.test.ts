/**
 * A newcomer follows README.md from an empty folder: the install commands, every snippet, every command, as written
 * (read from README.md itself, and from what `tnn help` prints), against the packed tarball.
 *
 * - The Node/Deno/Bun setup block (`npm init -y` …) runs as written in an empty folder; only the tarball's path
 *   (`../tnn/tnn-0.1.0.tgz` in the README) is replaced by where the test packed it.
 * - Each Node/Deno/Bun snippet (hello.js, gpt2.js) is saved under its name and run by each line of the README's run
 *   block (`node hello.js`, `bun hello.js`, `deno run --allow-read hello.js`), `node` once with Node 22 and once with
 *   Node 24 first on PATH.
 * - Every `npx tnn` line of the README and every example `tnn help` prints runs in that project, under Node 22 and
 *   under Node 24. The official-checkpoint line reads what `tools/convert_fairseq.py checkpoint.pt out/` writes and
 *   a fairseq dict.txt; converting a real checkpoint needs PyTorch and the checkpoint itself, so the test writes
 *   files of that shape instead: a small random causal LM over a dictionary of GPT-2 ids.
 * - The Worker setup block runs as written except `npm install -D wrangler typescript`, which links the repository's
 *   own wrangler and typescript instead (the same versions CI pins, and no registry round trip for ~100 MB of
 *   tooling). Each Worker snippet then goes into src/index.ts with the wrangler.toml blocks above it, and the
 *   commands after it run as written (`npx wrangler types && npx tsc`, `npx wrangler r2 object put … --local`),
 *   `npx wrangler dev` on a port the test picks, and the `curl` line as a fetch to that port.
 *
 * Commands get a shell environment without npm's run-script variables (so `npm install` here cannot touch the
 * repository), and npm prefers its cache (`npm_config_prefer_offline`), which changes no command.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PackedProject, binDir, packedProject, repoRoot } from "./runtimes/packed-project.js";
import { type CodeBlock, readmeBlocks, readmeShellLines } from "./runtimes/readme.js";
import { freePort } from "./runtimes/workerd.js";
import { lmConfig, randomStateDict } from "./helpers/random-state-dict.js";
import { writeSafetensors } from "./helpers/safetensors-writer.js";

/** The tarball path as the README writes it: a clone in ../tnn beside the new project. */
const README_TARBALL = "../tnn/tnn-0.1.0.tgz";
const NODES = { 22: join(repoRoot, "node_modules/node22/bin"), 24: join(repoRoot, "node_modules/node24/bin") } as const;
/** GPT-2's ids of "Hello" and " world": published with GPT-2's vocabulary, not computed by tnn. */
const HELLO_WORLD_GPT2 = /\[\s*15496,\s*995\s*\]/;
const COMMAND_TIMEOUT = 300_000;

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

let root: string;
let tools: string;

/** The environment of a user's shell: no npm run-script variables or node_modules/.bin on PATH; `node` is `nodeBin`'s. */
function shellEnv(nodeBin: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== "INIT_CWD" && k !== "NODE") env[k] = v;
  const path = (process.env.PATH ?? "/usr/bin:/bin").split(":").filter((p) => !/node_modules[/\\]\.bin|node-gyp-bin/.test(p));
  return {
    ...env,
    PATH: [nodeBin, tools, ...path].join(":"),
    npm_config_prefer_offline: "true",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
    WRANGLER_SEND_METRICS: "false",
    CI: "1",
    NO_COLOR: "1",
  };
}

function sh(script: string, cwd: string, node: 22 | 24 = 22): Ran {
  // stdin from /dev/null: Debian's bash reads /etc/bash.bashrc when stdin is a socket (libuv's pipes are), as for ssh.
  const r = spawnSync("bash", ["-eo", "pipefail", "-c", script], {
    cwd, env: shellEnv(NODES[node]), encoding: "utf8", timeout: COMMAND_TIMEOUT, killSignal: "SIGKILL", maxBuffer: 64 * 2 ** 20,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr + (r.error ? `\n${String(r.error)}` : "") };
}

function expectOk(r: Ran, what: string): void {
  expect(r.status, `${what}\nstdout:\n${r.stdout.slice(-3000)}\nstderr:\n${r.stderr.slice(-3000)}`).toBe(0);
}

/** The sh block that contains a line starting with `start`. */
function shBlockWith(blocks: CodeBlock[], start: string): CodeBlock {
  const found = blocks.filter((b) => b.lang === "sh" && b.code.split("\n").some((l) => l.trim().startsWith(start)));
  expect(found, `README.md: one sh block with a line starting "${start}"`).toHaveLength(1);
  return found[0]!;
}

describe("a newcomer follows README.md with the packed tarball", () => {
  let project: PackedProject;
  let blocks: CodeBlock[];
  let app: string;

  beforeAll(() => {
    project = packedProject();
    blocks = readmeBlocks();
    root = mkdtempSync(join(tmpdir(), "tnn-newcomer-"));
    // Bun and Deno as a user has them on PATH (the repository's pinned builds), and nothing else.
    tools = join(root, ".tools");
    mkdirSync(tools);
    for (const t of ["bun", "deno"]) symlinkSync(join(binDir, t), join(tools, t));
    const setup = shBlockWith(blocks, "mkdir hello-tnn");
    expect(setup.code).toContain(README_TARBALL);
    const r = sh(setup.code.replaceAll(README_TARBALL, project.tarball), root);
    expectOk(r, `README.md line ${setup.line}: the setup block`);
    app = join(root, setup.code.match(/^mkdir (\S+)/m)![1]!);
    expect(existsSync(join(app, "node_modules/tnn/package.json"))).toBe(true);
  });

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("made a project whose .js files are ES modules, as the README says npm pkg set type=module does", () => {
    expect((JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { type?: string }).type).toBe("module");
  });

  describe("the Node, Deno and Bun snippets, with the README's run commands", () => {
    const snippets = () => readmeBlocks().filter((b) => ["js", "mjs"].includes(b.lang) && b.file);
    /** The run block's lines, each with the runtime it names; `node` lines twice, for Node 22 and Node 24. */
    function runs(): { line: string; runtime: string; node: 22 | 24 }[] {
      const lines = shBlockWith(readmeBlocks(), "node hello.js").code.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter(Boolean);
      expect(lines.map((l) => l.split(" ")[0])).toEqual(["node", "bun", "deno"]);
      return lines.flatMap((line) => line.startsWith("node ")
        ? [{ line, runtime: "node 22", node: 22 as const }, { line, runtime: "node 24", node: 24 as const }]
        : [{ line, runtime: line.split(" ")[0]!, node: 22 as const }]);
    }

    it("hello.js prints the same seeded continuation in Node 22, Node 24, Bun and Deno", () => {
      const hello = snippets().find((b) => b.file === "hello.js")!;
      writeFileSync(join(app, "hello.js"), hello.code);
      const outputs = new Map<string, string>();
      for (const r of runs()) {
        const ran = sh(r.line, app, r.node);
        expectOk(ran, `${r.runtime}: ${r.line}`);
        expect(ran.stderr, r.runtime).toBe("");
        outputs.set(r.runtime, ran.stdout);
      }
      const texts = [...outputs.values()];
      // 100 byte-level tokens: at most 100 bytes of text, and seed 1 makes every runtime draw the same ones.
      expect(Buffer.byteLength(texts[0]!)).toBeGreaterThan(50);
      expect(Buffer.byteLength(texts[0]!)).toBeLessThanOrEqual(100);
      for (const [runtime, t] of outputs) expect(t, runtime).toBe(texts[0]);
    });

    it("every other snippet runs with the same commands: gpt2.js prints GPT-2's ids of \"Hello world\"", () => {
      const others = snippets().filter((b) => b.file !== "hello.js");
      expect(others.map((b) => b.file)).toEqual(["gpt2.js"]);
      for (const s of others) {
        writeFileSync(join(app, s.file!), s.code);
        for (const r of runs()) {
          const line = r.line.replace("hello.js", s.file!);
          const ran = sh(line, app, r.node);
          expectOk(ran, `${r.runtime}: ${line}`);
          expect(ran.stdout, `${r.runtime}: ${line}`).toMatch(HELLO_WORLD_GPT2);
        }
      }
    });
  });

  describe("the tnn command, from the installed package", () => {
    /** README's `npx tnn` lines, then `tnn help`'s examples as `npx` runs them; each command once. */
    function commands(): string[] {
      const fromReadme = readmeShellLines().map((x) => x.line).filter((l) => l.startsWith("npx tnn "));
      const help = sh("npx tnn help", app);
      expectOk(help, "npx tnn help");
      const examples = help.stdout.split("\n").slice(help.stdout.split("\n").indexOf("Examples:") + 1)
        .map((l) => l.replace(/\s+#.*$/, "").trim()).filter((l) => l.startsWith("tnn ")).map((l) => `npx ${l}`);
      expect(fromReadme.length).toBeGreaterThanOrEqual(4);
      expect(examples.length).toBeGreaterThanOrEqual(3);
      return [...new Set([...fromReadme, ...examples].map((c) => c.replace(/\s+/g, " ")))];
    }

    const reference = JSON.parse(readFileSync(join(repoRoot, "models/kjv-byte/eval_reference.json"), "utf8")) as {
      results: { length: number; bits_per_byte: number }[];
    };

    /** What the converter and a fairseq dict.txt would leave in the project: out/model.safetensors, out/config.json. */
    function officialCheckpointStandIn(cmds: string[]): void {
      const official = cmds.filter((c) => c.includes("--dict"));
      expect(official, "the README's official-checkpoint command").toEqual(["npx tnn generate \"The\" --model out/model.safetensors --dict dict.txt"]);
      // GPT-2 ids 0..995 in fairseq's "<symbol> <count>" lines: model ids 4..999 ("The" is GPT-2 id 464).
      writeFileSync(join(app, "dict.txt"), Array.from({ length: 996 }, (_, i) => `${i} ${1000 - i}`).join("\n") + "\n");
      const config = lmConfig({ vocab_size: 1000 });
      mkdirSync(join(app, "out"), { recursive: true });
      writeFileSync(join(app, "out/model.safetensors"), writeSafetensors(randomStateDict(config, 7)));
      writeFileSync(join(app, "out/config.json"), JSON.stringify(config));
    }

    for (const node of [22, 24] as const) {
      it(`every command runs under Node ${node} and does what it says`, () => {
        const version = spawnSync(join(NODES[node], "node"), ["--version"], { encoding: "utf8" }).stdout.trim();
        expect(version).toMatch(new RegExp(`^v${node}\\.`));
        const cmds = commands();
        officialCheckpointStandIn(cmds);
        for (const sub of ["generate", "eval", "bench", "info"]) expect(cmds.some((c) => c.startsWith(`npx tnn ${sub} `)), sub).toBe(true);
        for (const cmd of cmds) {
          const r = sh(cmd, app, node);
          expectOk(r, `Node ${node}: ${cmd}`);
          const sub = cmd.split(" ")[2];
          if (sub === "generate") {
            const prompt = /generate "([^"]+)"/.exec(cmd)![1]!;
            expect(r.stdout.startsWith(prompt), cmd).toBe(true);
            expect(r.stdout.length, cmd).toBeGreaterThan(prompt.length + 20);
          } else if (sub === "eval") {
            // Bits per byte against the float64 reference evaluation shipped with the model card.
            const lengths = /--lengths (\S+)/.exec(cmd)![1]!.split(",").map(Number);
            for (const n of lengths) {
              const row = new RegExp(`^\\|\\s*${n} \\|[^|]*\\|[^|]*\\|\\s*([\\d.]+) \\|`, "m").exec(r.stdout);
              expect(row, `${cmd}: a row for ${n}\n${r.stdout}`).not.toBeNull();
              const want = reference.results.find((x) => x.length === n)!.bits_per_byte;
              expect(Math.abs(Number(row![1]) - want), `${cmd}: bits/byte at ${n}`).toBeLessThan(2e-3);
            }
          } else if (sub === "bench") {
            expect(r.stdout, cmd).toContain(`measured on: node ${version.slice(1)}`);
            expect(r.stdout, cmd).toMatch(/decode \(online[^|]*\|\s*[\d.]+ tokens\/s/);
          } else if (sub === "info") {
            // models/kjv-byte/README.md: 888,192 trainable parameters plus 1,536 frozen λ values.
            expect(r.stdout, cmd).toContain("889,728 (0.89 M; 1,536 of them the frozen decays λ)");
            expect(r.stdout, cmd).toContain(join(app, "node_modules/tnn/models/kjv-byte/model.safetensors"));
          }
        }
      });
    }
  });

  describe("the Cloudflare Worker snippets, through wrangler", () => {
    let worker: string;
    let dev: ChildProcess | undefined;

    beforeAll(() => {
      const setup = shBlockWith(readmeBlocks(), "npm install -D wrangler typescript");
      const script = setup.code.replaceAll(README_TARBALL, project.tarball)
        .replace("npm install -D wrangler typescript", "mkdir -p node_modules/.bin && " +
          ["wrangler", "typescript"].map((p) => `ln -s ${join(repoRoot, "node_modules", p)} node_modules/${p}`).join(" && ") +
          ` && ln -s ../wrangler/bin/wrangler.js node_modules/.bin/wrangler && ln -s ../typescript/bin/tsc node_modules/.bin/tsc`);
      expectOk(sh(script, root), `README.md line ${setup.line}: the Worker setup block`);
      worker = join(root, setup.code.match(/^mkdir (\S+)/m)![1]!);
      // "with examples/worker/tsconfig.json beside it"
      cpSync(join(repoRoot, "examples/worker/tsconfig.json"), join(worker, "tsconfig.json"));
    });

    afterAll(() => stopDev());

    function stopDev(): void {
      if (dev?.pid !== undefined && dev.exitCode === null) {
        try {
          process.kill(-dev.pid, "SIGKILL");
        } catch { /* gone */ }
      }
      dev = undefined;
    }

    /** Starts `npx wrangler dev` (as written, on `port`) and resolves with its output once it is ready. */
    function startDev(line: string, port: number): Promise<{ output: () => string }> {
      let output = "";
      dev = spawn("bash", ["-c", `${line} --port ${port} --ip 127.0.0.1`], { cwd: worker, env: shellEnv(NODES[22]), detached: true, stdio: ["ignore", "pipe", "pipe"] });
      dev.stdout!.on("data", (d) => (output += d));
      dev.stderr!.on("data", (d) => (output += d));
      const child = dev;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`wrangler dev was not ready after 120 s:\n${output}`)), 120_000);
        child.on("exit", (code) => {
          clearTimeout(timer);
          reject(new Error(`wrangler dev exited (${code}):\n${output}`));
        });
        const poll = setInterval(() => {
          if (/Ready on/.test(output)) {
            clearInterval(poll);
            clearTimeout(timer);
            resolve({ output: () => output });
          }
        }, 100);
        child.on("exit", () => clearInterval(poll));
      });
    }

    it("each Worker snippet type-checks, serves the curl line's request, and wrangler warns of nothing", async () => {
      const all = readmeBlocks();
      const snippets = all.filter((b) => b.lang === "ts" && b.file === "src/index.ts");
      expect(snippets.length).toBe(2);
      for (const [i, s] of snippets.entries()) {
        const toml = all.filter((b) => b.lang === "toml" && b.file === "wrangler.toml" && b.line < s.line).map((b) => b.code).join("\n");
        writeFileSync(join(worker, "wrangler.toml"), toml);
        mkdirSync(join(worker, "src"), { recursive: true });
        writeFileSync(join(worker, "src/index.ts"), s.code);
        // The commands of the first sh block after the snippet.
        const after = all.find((b) => b.lang === "sh" && b.line > s.line)!;
        const lines = after.code.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter(Boolean);
        expect(lines.some((l) => l === "npx wrangler dev"), `README.md line ${after.line}`).toBe(true);
        expect(lines.at(-1)).toMatch(/^curl /);
        for (const line of lines) {
          if (line === "npx wrangler dev") {
            const port = await freePort();
            const { output } = await startDev(line, port);
            const curl = lines.at(-1)!;
            const url = /"(http:\/\/localhost:8787\/[^"]*)"/.exec(curl)![1]!.replace("localhost:8787", `127.0.0.1:${port}`);
            const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
            const body = await res.text();
            expect(res.status, `snippet ${i + 1}: ${body}\n${output()}`).toBe(200);
            expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
            // 100 byte-level tokens of a continuation.
            expect(Buffer.byteLength(body)).toBeGreaterThan(0);
            expect(Buffer.byteLength(body)).toBeLessThanOrEqual(100);
            expect(output()).not.toMatch(/does not have a fallback|\[WARNING\]|✘/);
            stopDev();
            break;
          }
          expectOk(sh(line, worker), `snippet ${i + 1}: ${line}`);
        }
      }
    });
  });
});
