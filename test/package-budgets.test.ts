/**
 * The packed tarball against the size budgets (JS < 50 KB gzipped per entry, .wasm budgets below) and
 * against what it must and must not contain. Figures are written to test/artifacts/package-sizes.json.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { beforeAll, describe, expect, it } from "vitest";
import { type PackedProject, packedProject, repoRoot } from "./runtimes/packed-project.js";

const JS_BUDGET = 50 * 1024;
// The download budget: < 200 KB gzipped per .wasm.
const WASM_BUDGET: Record<string, number> = Object.fromEntries(
  ["tnn-scalar.wasm", "tnn-simd.wasm", "tnn-relaxed.wasm", "tnn-simd-threads.wasm", "tnn-relaxed-threads.wasm"].map((f) => [f, 200 * 1024]),
);

const gz = (b: Uint8Array) => gzipSync(b, { level: 9 }).length;

/** The JS files an entry loads: itself and, transitively, its relative static imports. */
function jsClosure(dir: string, entry: string): string[] {
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    const src = readFileSync(join(dir, f), "utf8");
    for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']\.\/([^"']+)["']/g)) visit(m[1]!);
  };
  visit(entry);
  return [...seen];
}

describe("the packed package", () => {
  let project: PackedProject;
  let files: string[];
  beforeAll(() => {
    project = packedProject();
    files = execFileSync("tar", ["-tzf", project.tarball], { encoding: "utf8" }).split("\n").filter(Boolean).map((f) => f.replace(/^package\//, ""));
  });

  it("holds the bundles, types, every wasm build and the shipped model with its held-out text, and no sources", () => {
    for (const f of [
      "package.json", "dist/index.js", "dist/browser.js", "dist/index.d.ts", "dist/gpt2.js", "dist/browser-gpt2.js", "dist/gpt2.d.ts",
      ...Object.keys(WASM_BUDGET).map((w) => `dist/${w}`), "models/kjv-byte/model.safetensors", "models/kjv-byte/config.json",
      // `tnn eval` without FILE, the model card and `tnn help` all point at it.
      "models/kjv-byte/heldout.txt",
    ]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^(ts|pkg|test|crates|tools|benches|scripts)\//.test(f))).toEqual([]);
  });

  it("keeps GPT-2's vocabulary out of the browser/Worker build: only the tnn/gpt2 entries import gpt-tokenizer", () => {
    const dist = join(project.pkgDir, "dist");
    const importsOf = (f: string) => [...readFileSync(join(dist, f), "utf8").matchAll(/\bimport\s*\(?\s*(?:[^"'()]*?\bfrom\s*)?["']([^"']+)["']/g)].map((m) => m[1]!);
    for (const f of jsClosure(dist, "browser.js")) expect(importsOf(f).filter((i) => i.startsWith("gpt-tokenizer")), f).toEqual([]);
    expect(importsOf("browser-gpt2.js")).toEqual(expect.arrayContaining(["gpt-tokenizer/encoding/r50k_base", "gpt-tokenizer/bpeRanks/r50k_base"]));
    // Node, Deno and Bun load it on demand from the main entry (a dynamic import), and statically from tnn/gpt2.
    expect(importsOf("index.js")).toEqual(expect.arrayContaining(["gpt-tokenizer/encoding/r50k_base"]));
    expect(importsOf("gpt2.js")).toEqual(expect.arrayContaining(["gpt-tokenizer/encoding/r50k_base", "./index.js"]));
    expect(importsOf("browser-gpt2.js")).toContain("./browser.js");
  });

  it("resolves every path of its exports map and bin to a shipped file", () => {
    const pkg = JSON.parse(readFileSync(join(project.pkgDir, "package.json"), "utf8")) as {
      exports: Record<string, string | Record<string, string>>; bin?: Record<string, string>; main: string; types: string;
    };
    const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {})];
    for (const [key, v] of Object.entries(pkg.exports)) {
      if (key.includes("*")) continue;
      targets.push(...(typeof v === "string" ? [v] : Object.values(v)));
    }
    for (const t of targets) expect(files).toContain(t.replace(/^\.\//, ""));
    // Conditions are matched in order: Workers (wrangler) and Deno must meet their own entry before browser/node.
    const conditional = Object.entries(pkg.exports).filter(([, v]) => typeof v !== "string");
    expect(conditional.map(([k]) => k)).toEqual([".", "./gpt2"]);
    for (const [key, v] of conditional) {
      const order = Object.keys(v as Record<string, string>);
      expect(order[0], key).toBe("types");
      expect(order.indexOf("workerd"), key).toBeLessThan(order.indexOf("browser"));
      expect(order.indexOf("worker"), key).toBeLessThan(order.indexOf("browser"));
      expect(order.indexOf("deno"), key).toBeLessThan(order.indexOf("node"));
      expect(order.at(-1), key).toBe("default");
    }
  });

  it("keeps each entry's JavaScript under 50 KB gzipped and each .wasm within its gzipped budget, with no inlined wasm", () => {
    const dist = join(project.pkgDir, "dist");
    const js: Record<string, number> = {};
    const wasm: Record<string, number> = {};
    const record: Record<string, unknown> = {};
    for (const entry of ["index.js", "browser.js", "gpt2.js", "browser-gpt2.js"]) {
      const closure = jsClosure(dist, entry);
      let total = 0;
      for (const f of closure) {
        const src = readFileSync(join(dist, f));
        // base64 of "\0asm": a wasm binary inlined as a data URL or string.
        expect(src.toString("latin1"), f).not.toContain("AGFzbQ");
        total += gz(src);
      }
      js[entry] = total;
      record[`${entry} gzipped (with ${closure.join(" + ")})`] = total;
    }
    for (const f of Object.keys(WASM_BUDGET)) {
      const bytes = readFileSync(join(dist, f));
      wasm[f] = gz(bytes);
      record[`${f} gzipped`] = wasm[f];
      record[`${f} raw`] = bytes.length;
    }
    record["tarball"] = readFileSync(project.tarball).length;
    // Written before the checks, so the figures are there to read when a budget fails.
    mkdirSync(join(repoRoot, "test/artifacts"), { recursive: true });
    writeFileSync(join(repoRoot, "test/artifacts/package-sizes.json"), JSON.stringify(record, null, 2));
    for (const [f, n] of Object.entries(js)) expect(n, `${f} and its chunks, gzipped`).toBeLessThan(JS_BUDGET);
    for (const [f, n] of Object.entries(wasm)) expect(n, `${f} gzipped`).toBeLessThan(WASM_BUDGET[f]!);
  });

  it("ships a scalar module with no SIMD instructions, simd128 modules with no relaxed ones, relaxed-SIMD modules and threaded ones", async () => {
    const wabt = await (createRequire(import.meta.url)("wabt") as () => Promise<{
      readWasm(b: Uint8Array, o: Record<string, boolean>): { validate(): void; toText(o: object): string; destroy(): void };
    }>)();
    const features = {
      mutable_globals: true, sat_float_to_int: true, sign_extension: true, bulk_memory: true, multi_value: true,
      reference_types: true, exceptions: true, tail_call: true, extended_const: true,
    };
    // Copies: wabt misreads a Buffer that is a view into a larger pool.
    const read = (f: string) => new Uint8Array(readFileSync(join(project.pkgDir, "dist", f)));
    // Without the simd feature, wabt rejects any v128 type or instruction; without relaxed_simd, any relaxed one;
    // without threads, a shared memory. (Its validator refuses shared memories whatever the features, so threaded
    // modules are only read.)
    const text = (b: Uint8Array, on: { simd?: boolean; relaxed_simd?: boolean; threads?: boolean }) => {
      const m = wabt.readWasm(b, { ...features, simd: false, relaxed_simd: false, threads: false, ...on });
      try {
        if (!on.threads) m.validate();
        return m.toText({});
      } finally {
        m.destroy();
      }
    };
    text(read("tnn-scalar.wasm"), {});
    for (const [file, relaxed, threads] of [
      ["tnn-simd.wasm", false, false], ["tnn-relaxed.wasm", true, false], ["tnn-simd-threads.wasm", false, true], ["tnn-relaxed-threads.wasm", true, true],
    ] as const) {
      const b = read(file);
      expect(() => text(b, { relaxed_simd: relaxed, threads }), file).toThrow();
      if (relaxed) expect(() => text(b, { simd: true, threads }), file).toThrow();
      if (threads) expect(() => text(b, { simd: true, relaxed_simd: relaxed }), file).toThrow();
      const wat = text(b, { simd: true, relaxed_simd: relaxed, threads });
      expect(wat, file).toMatch(/\bf32x4\./);
      // The fused multiply-add is what the relaxed builds are for: GEMM, norms and FFT butterflies use it.
      expect(/\bf32x4\.relaxed_madd\b/.test(wat), file).toBe(relaxed);
      // A threaded module imports its memory, shared, and its pool sleeps and wakes on it.
      expect(/\(import "[^"]*" "memory" \(memory (?:\(;0;\) )?\d+ \d+ shared\)\)/.test(wat), file).toBe(threads);
      expect(/\bmemory\.atomic\.wait32\b/.test(wat), file).toBe(threads);
    }
  });
});
