/**
 * Every JavaScript and TypeScript snippet of README.md (read from the file itself) and every example type-checks
 * against the packed package's own types, in a scratch folder of the project the tarball is installed in: with
 * `tsc --strict` (`checkJs` for JavaScript) and with `deno check`, in the environment each one is written for.
 *
 * - Node, Deno and Bun snippets (hello.js, gpt2.js) and examples/node: @types/node; `deno check`.
 * - examples/deno: `deno check`, and tsc with the types `deno types` prints (what a Deno user hands an editor).
 * - Worker snippets and examples/worker: tsc against the worker-configuration.d.ts that `wrangler types` writes from
 *   the wrangler.toml the README builds up (the Workers runtime, `Env`, the .wasm and .safetensors imports), with
 *   examples/worker/tsconfig.json. No `deno check`: Deno cannot import a .wasm file as a compiled module or a
 *   .safetensors file as data, which is what these Workers do, so Deno refuses the module graph before any typing.
 * - Browser pages (the README's HTML block, examples/browser/index.html): their module scripts, with the DOM
 *   library; `deno check` with the DOM library.
 *
 * Each check also gets a file that must fail (a number where loadModel wants a source), so a setup that silently
 * checks nothing fails this test.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { type PackedProject, binDir, packedProject, repoRoot } from "./runtimes/packed-project.js";
import { type CodeBlock, moduleScripts, readmeBlocks, readmeSnippets } from "./runtimes/readme.js";

const run = promisify(execFile);
const TSC = join(repoRoot, "node_modules/typescript/bin/tsc");
const DENO = join(binDir, "deno");
const WRANGLER = join(repoRoot, "node_modules/wrangler/bin/wrangler.js");
/** wrangler 4 needs Node 22.12 or later; the tests run under whatever started vitest. */
const NODE22 = join(repoRoot, "node_modules/node22/bin/node");

/** Where each README snippet goes, by the file name in its info string. */
const SNIPPET_KINDS: Record<string, "server" | "worker"> = { "hello.js": "server", "gpt2.js": "server", "src/index.ts": "worker" };

/** A call that must not type-check, in the snippet's language. */
const NEGATIVE = 'import { loadModel } from "tnn";\nexport const m = await loadModel(1);\n';
const NEGATIVE_FILE = "negative-control";

interface Diagnostics {
  ok: boolean;
  /** The files that have errors (relative to the folder checked), with the output for the message. */
  files: string[];
  output: string;
}

/** Runs a checker; parses `file(line,col): error` (tsc) and `at file:///...:line:col` (deno) locations. */
async function check(cmd: string, args: string[], cwd: string): Promise<Diagnostics> {
  const plain = { ...process.env, NO_COLOR: "1" };
  try {
    const r = await run(cmd, args, { cwd, env: plain, maxBuffer: 64 * 2 ** 20, timeout: 300_000 });
    return { ok: true, files: [], output: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number; message: string };
    const output = `${err.stdout ?? ""}${err.stderr ?? ""}`;
    const files = new Set<string>();
    for (const m of output.matchAll(/^([^\s(][^(\n]*)\(\d+,\d+\): error/gm)) files.add(m[1]!);
    for (const m of output.matchAll(/at file:\/\/(\S+?):\d+:\d+/g)) files.add(m[1]!.startsWith(cwd + "/") ? m[1]!.slice(cwd.length + 1) : m[1]!);
    if (files.size === 0) throw new Error(`${cmd} ${args.join(" ")} failed without a located error (${err.code}):\n${output || err.message}`);
    return { ok: false, files: [...files].sort(), output };
  }
}

/** Every error is in the negative control, and the negative control has one. */
function expectOnlyNegative(d: Diagnostics, negative: string): void {
  expect(d.files, d.output).toEqual([negative]);
}

function tsconfig(dir: string, compilerOptions: Record<string, unknown>, files: string[]): void {
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: { target: "ES2022", strict: true, noEmit: true, skipLibCheck: true, allowJs: true, checkJs: true, ...compilerOptions },
    files,
  }, null, 2));
}

const tsc = (dir: string) => check(process.execPath, [TSC, "-p", ".", "--pretty", "false"], dir);

describe("README snippets and examples type-check against the packed package", () => {
  let project: PackedProject;
  let base: string;
  let snippets: CodeBlock[];

  beforeAll(() => {
    project = packedProject();
    base = join(project.dir, `typecheck-${process.pid}-${randomBytes(3).toString("hex")}`);
    mkdirSync(base, { recursive: true });
    snippets = readmeSnippets();
  });

  /**
   * A fresh folder under the scratch project, set up as a project of its own that depends on the installed tarball:
   * Deno only resolves "tnn" when the package.json beside its deno.json lists it.
   */
  function folder(name: string): string {
    const d = join(base, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, "package.json"), JSON.stringify({ name, private: true, type: "module", dependencies: { tnn: "*" } }));
    symlinkSync(join(project.dir, "node_modules"), join(d, "node_modules"));
    return d;
  }

  it("every README snippet names the file it belongs in, one this test knows", () => {
    expect(snippets.length).toBeGreaterThanOrEqual(4);
    for (const s of snippets) expect(SNIPPET_KINDS[s.file ?? ""], `README.md line ${s.line}: \`\`\`${s.lang} ${s.file ?? ""}`).toBeDefined();
  });

  describe("Node, Deno and Bun", () => {
    let dir: string;
    let files: string[];
    beforeAll(() => {
      dir = folder("server");
      files = [];
      for (const s of snippets.filter((x) => SNIPPET_KINDS[x.file ?? ""] === "server")) {
        writeFileSync(join(dir, s.file!), s.code);
        files.push(s.file!);
      }
      copyFileSync(join(repoRoot, "examples/node/generate.mjs"), join(dir, "generate.mjs"));
      files.push("generate.mjs");
      writeFileSync(join(dir, `${NEGATIVE_FILE}.js`), NEGATIVE);
    });

    it("tsc --strict with @types/node: README's hello.js and gpt2.js, examples/node/generate.mjs", async () => {
      expect(files).toEqual(expect.arrayContaining(["hello.js", "gpt2.js"]));
      tsconfig(dir, {
        module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2022"], types: ["node"], typeRoots: [join(repoRoot, "node_modules/@types")],
      }, [...files, `${NEGATIVE_FILE}.js`]);
      expectOnlyNegative(await tsc(dir), `${NEGATIVE_FILE}.js`);
    });

    it("deno check (checkJs, strict): the same files", async () => {
      writeFileSync(join(dir, "deno.json"), JSON.stringify({ compilerOptions: { checkJs: true, strict: true } }));
      expectOnlyNegative(await check(DENO, ["check", "--quiet", ...files, `${NEGATIVE_FILE}.js`], dir), `${NEGATIVE_FILE}.js`);
    });
  });

  describe("examples/deno/generate.ts", () => {
    let dir: string;
    beforeAll(() => {
      dir = folder("deno");
      copyFileSync(join(repoRoot, "examples/deno/generate.ts"), join(dir, "generate.ts"));
      writeFileSync(join(dir, `${NEGATIVE_FILE}.ts`), NEGATIVE);
    });

    it("deno check", async () => {
      expectOnlyNegative(await check(DENO, ["check", "--quiet", "generate.ts", `${NEGATIVE_FILE}.ts`], dir), `${NEGATIVE_FILE}.ts`);
    });

    it("tsc --strict with the types `deno types` prints", async () => {
      const { stdout } = await run(DENO, ["types"], { maxBuffer: 64 * 2 ** 20 });
      // Those lines name Deno's own libraries, which tsc does not have; their declarations follow in the same output.
      writeFileSync(join(dir, "deno.d.ts"), stdout.split("\n").filter((l) => !/^\/\/\/ <reference lib="deno\./.test(l)).join("\n"));
      tsconfig(dir, { module: "ES2022", moduleResolution: "Bundler", lib: ["ESNext"], types: [] }, ["deno.d.ts", "generate.ts", `${NEGATIVE_FILE}.ts`]);
      expectOnlyNegative(await tsc(dir), `${NEGATIVE_FILE}.ts`);
    });
  });

  describe("Cloudflare Workers: tsc --strict against `wrangler types`, with examples/worker/tsconfig.json", () => {
    /** A Worker project: wrangler.toml, src/, the example's tsconfig, then `wrangler types`. */
    async function worker(name: string, toml: string, sources: Record<string, string>): Promise<string> {
      const dir = folder(name);
      mkdirSync(join(dir, "src"), { recursive: true });
      writeFileSync(join(dir, "wrangler.toml"), toml);
      for (const [f, code] of Object.entries(sources)) writeFileSync(join(dir, f), code);
      copyFileSync(join(repoRoot, "examples/worker/tsconfig.json"), join(dir, "tsconfig.json"));
      await run(NODE22, [WRANGLER, "types"], {
        cwd: dir, timeout: 120_000, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1", NO_COLOR: "1", WRANGLER_LOG_PATH: join(dir, "logs") },
      });
      return dir;
    }

    it("each README Worker snippet, with the wrangler.toml blocks above it (the R2 one adds a bucket)", async () => {
      const blocks = readmeBlocks();
      const workers = blocks.filter((b) => SNIPPET_KINDS[b.file ?? ""] === "worker");
      expect(workers.length).toBeGreaterThanOrEqual(2);
      for (const [i, w] of workers.entries()) {
        // A reader adds each wrangler.toml block to the same file, in the order the README gives them.
        const toml = blocks.filter((b) => b.lang === "toml" && b.file === "wrangler.toml" && b.line < w.line).map((b) => b.code).join("\n");
        const sources: Record<string, string> = { [w.file!]: w.code };
        if (i === 0) sources[`src/${NEGATIVE_FILE}.ts`] = NEGATIVE;
        const dir = await worker(`worker-readme-${i}`, toml, sources);
        const d = await tsc(dir);
        if (i === 0) expectOnlyNegative(d, `src/${NEGATIVE_FILE}.ts`);
        else expect(d.ok, `README.md line ${w.line}:\n${d.output}`).toBe(true);
      }
    });

    it("examples/worker", async () => {
      const dir = await worker("worker-example", readFileSync(join(repoRoot, "examples/worker/wrangler.toml"), "utf8"), {
        "src/index.ts": readFileSync(join(repoRoot, "examples/worker/src/index.ts"), "utf8"),
      });
      const d = await tsc(dir);
      expect(d.ok, d.output).toBe(true);
    });
  });

  describe("browsers: the module scripts of README's HTML block and of examples/browser/index.html", () => {
    let dir: string;
    let files: string[];
    beforeAll(() => {
      dir = folder("browser");
      const html = readmeBlocks().filter((b) => b.lang === "html").map((b) => b.code);
      expect(html).toHaveLength(1);
      const scripts = [...moduleScripts(html[0]!), ...moduleScripts(readFileSync(join(repoRoot, "examples/browser/index.html"), "utf8"))];
      expect(scripts).toHaveLength(2);
      files = scripts.map((s, i) => {
        writeFileSync(join(dir, `page-${i}.js`), s);
        return `page-${i}.js`;
      });
      writeFileSync(join(dir, `${NEGATIVE_FILE}.js`), NEGATIVE);
    });

    it("tsc --strict with the DOM library", async () => {
      tsconfig(dir, { module: "ES2022", moduleResolution: "Bundler", lib: ["ES2022", "DOM", "DOM.Iterable"], types: [] }, [...files, `${NEGATIVE_FILE}.js`]);
      expectOnlyNegative(await tsc(dir), `${NEGATIVE_FILE}.js`);
    });

    it("deno check with the DOM library", async () => {
      writeFileSync(join(dir, "deno.json"), JSON.stringify({ compilerOptions: { checkJs: true, strict: true, lib: ["dom", "dom.iterable", "esnext"] } }));
      expectOnlyNegative(await check(DENO, ["check", "--quiet", ...files, `${NEGATIVE_FILE}.js`], dir), `${NEGATIVE_FILE}.js`);
    });
  });
});
