// Builds the npm package into dist/:
//   index.js      ESM for Node, Deno and Bun (reads its own .wasm from disk through node:fs)
//   browser.js    ESM for browsers and Workers (no node: imports, so bundlers for the web accept it)
//   cli.js        the `tnn` command (Node), sharing index.js
//   gpt2.js, browser-gpt2.js   the `tnn/gpt2` entry (GPT-2's tokenizer with its 1 MB vocabulary) on top of
//                 index.js and browser.js; browser.js itself never imports the vocabulary (see webWithoutGpt2)
//   index.d.ts, gpt2.d.ts   types for both builds
//   tnn-{relaxed,simd}-threads.wasm, tnn-relaxed.wasm, tnn-simd.wasm, tnn-scalar.wasm   the kernel builds, shipped as
//                 files (never inlined: Workers cannot compile wasm from bytes, and base64 would cost a third more)
// Run `npm run build:wasm` first; it writes pkg/<build> for each.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import typescript from "@rollup/plugin-typescript";
import { transform } from "esbuild";
import { dts } from "rollup-plugin-dts";

const root = dirname(fileURLToPath(import.meta.url));
const BUILDS = {
  "relaxed-threads": "tnn-relaxed-threads.wasm", "simd-threads": "tnn-simd-threads.wasm",
  relaxed: "tnn-relaxed.wasm", simd: "tnn-simd.wasm", scalar: "tnn-scalar.wasm",
};

for (const build of Object.keys(BUILDS)) {
  for (const f of ["tnn.js", "tnn_bg.wasm"]) {
    if (!existsSync(join(root, "pkg", build, f))) {
      throw new Error(`rollup: pkg/${build}/${f} is missing; run \`npm run build:wasm\` first`);
    }
  }
}
// Chunks are named by content of the module graph; start clean so no stale file gets packed.
rmSync(join(root, "dist"), { recursive: true, force: true });

// ts/core loads every build through the threaded builds' glue. That is sound while the glues of the single-threaded
// builds are one code, those of the threaded builds another, and both export the same names (the threaded glue only
// adds a shared memory and thread stacks to the same bindings).
const glue = (build) => readFileSync(join(root, "pkg", build, "tnn.js"), "utf8");
const exported = (src) => [...src.matchAll(/^export (?:function|class) (\w+)/gm)].map((m) => m[1]).sort().join(",");
for (const build of Object.keys(BUILDS)) {
  const twin = build.endsWith("-threads") ? "simd-threads" : "simd";
  if (glue(build) !== glue(twin)) throw new Error(`rollup: pkg/${twin}/tnn.js and pkg/${build}/tnn.js differ; every build must export the same bindings`);
}
if (exported(glue("simd")) !== exported(glue("simd-threads"))) {
  throw new Error("rollup: the threaded and single-threaded glues export different names; the builds must export the same bindings");
}

/**
 * Points the default wasm URLs at the files shipped beside the bundle, and emits those files.
 * Every expected URL expression must be found, so a rename in ts/core/wasm.ts fails the build instead of shipping
 * a package that looks for pkg/ at run time.
 */
function wasmAssets({ emit }) {
  const rewrites = [
    ...Object.entries(BUILDS).map(([build, file]) => (
      { file: "ts/core/wasm.ts", from: `new URL("../../pkg/${build}/tnn_bg.wasm", import.meta.url)`, to: `new URL("./${file}", import.meta.url)` })),
    // wasm-bindgen's own fallback URL is never used (ts/core always passes a module) but web bundlers follow it.
    { file: "pkg/simd-threads/tnn.js", from: "new URL('tnn_bg.wasm', import.meta.url)", to: `new URL("./${BUILDS["simd-threads"]}", import.meta.url)` },
  ];
  return {
    name: "tnn-wasm-assets",
    transform(code, id) {
      const rel = id.slice(root.length + 1).replaceAll("\\", "/");
      const mine = rewrites.filter((r) => r.file === rel);
      if (mine.length === 0) return null;
      let out = code;
      for (const r of mine) {
        if (!out.includes(r.from)) this.error(`expected \`${r.from}\` in ${rel}; update rollup.config.mjs to match`);
        out = out.replaceAll(r.from, r.to);
      }
      return { code: out, map: null };
    },
    generateBundle() {
      if (!emit) return;
      for (const [build, fileName] of Object.entries(BUILDS)) {
        this.emitFile({ type: "asset", fileName, source: readFileSync(join(root, "pkg", build, "tnn_bg.wasm")) });
      }
    },
  };
}

/** In the web build, file: URLs cannot occur, so node:fs is replaced by a stub that says what to do instead. */
function noNodeBuiltins() {
  const STUB = "\0tnn-no-node";
  return {
    name: "tnn-no-node-builtins",
    resolveId(source) {
      return source.startsWith("node:") ? STUB : null;
    },
    load(id) {
      if (id !== STUB) return null;
      return 'export function readFile() { throw new Error("this is the browser/Worker build of tnn: it cannot read file: URLs; pass init({ wasm }) a WebAssembly.Module, bytes or an http(s) URL"); }\n' +
        "export default { readFile };\n";
    },
  };
}

/**
 * The browser/Worker build must not mention gpt-tokenizer: wrangler (esbuild) inlines dynamic imports into a Worker's
 * single file, so the vocabulary would ride along in every byte-level Worker (a 1 MB bundle). Each dynamic import
 * of it becomes the call that explains to import `tnn/gpt2` instead; the `tnn/gpt2` entry imports it statically.
 */
function webWithoutGpt2() {
  const file = "ts/generate/gpt2-tokenizer.ts";
  const imports = ['import("gpt-tokenizer/encoding/r50k_base")', 'import("gpt-tokenizer/bpeRanks/r50k_base")'];
  return {
    name: "tnn-web-without-gpt2",
    transform(code, id) {
      if (id.slice(root.length + 1).replaceAll("\\", "/") !== file) return null;
      let out = code;
      for (const i of imports) {
        if (!out.includes(i)) this.error(`expected \`${i}\` in ${file}; update rollup.config.mjs to match`);
        out = out.replaceAll(i, "gpt2NotInWebBuild()");
      }
      return { code: out, map: null };
    },
  };
}

const ts = () => typescript({
  tsconfig: "./tsconfig.json",
  include: ["ts/**/*.ts"],
  // Type errors are `npm run typecheck`'s job; doc comments ship in index.d.ts, not in the JS.
  compilerOptions: { declaration: false, noEmitOnError: false, noCheck: true, removeComments: true, outDir: "dist", rootDir: "." },
  noForceEmit: false,
});

// Runtime dependencies are imported, not bundled (gpt-tokenizer's vocabulary alone is megabytes, loaded on demand).
const pkgJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const deps = Object.keys(pkgJson.dependencies ?? {});
const isDep = (id) => deps.some((d) => id === d || id.startsWith(`${d}/`));

/**
 * Whitespace and syntax minification of each output chunk (esbuild): a fifth off the download, names kept so that
 * stack traces still read.
 */
function minify() {
  return {
    name: "tnn-minify",
    async renderChunk(code, chunk) {
      const banner = chunk.fileName === "cli.js" ? "#!/usr/bin/env node\n" : "";
      const out = await transform(code.replace(/^#!.*\n/, ""), { format: "esm", minifyWhitespace: true, minifySyntax: true, legalComments: "none" });
      return { code: banner + out.code, map: null };
    },
  };
}

const onwarn = (warning, warn) => {
  // The wasm-bindgen glue uses `this` at top level in code paths we never take.
  if (warning.code === "THIS_IS_UNDEFINED") return;
  warn(warning);
};

/** The `tnn/gpt2` entry module: kept out of the main chunk so that only importing `tnn/gpt2` loads the vocabulary. */
const isGpt2Entry = (id) => id.replaceAll("\\", "/").endsWith("/ts/gpt2.ts");

export default [
  {
    input: { index: "ts/index.ts", cli: "ts/cli/tnn.ts", gpt2: "ts/gpt2.ts" },
    external: (id) => id.startsWith("node:") || isDep(id),
    plugins: [wasmAssets({ emit: true }), ts(), minify()],
    onwarn,
    // index.js may export internals the gpt2 entry needs (under mangled names); otherwise it would become a facade
    // over a second chunk.
    preserveEntrySignatures: "allow-extension",
    output: {
      dir: "dist",
      format: "es",
      entryFileNames: "[name].js",
      chunkFileNames: "[name].js",
      // Everything but the CLI and the gpt2 entry lands in index.js (a manual chunk holding an entry module becomes
      // that entry), and cli.js and gpt2.js import it from there, so all three share one wasm instance and classes.
      manualChunks: (id) => (id.includes("/ts/cli/") || isGpt2Entry(id) ? undefined : "tnn"),
      banner: (chunk) => (chunk.name === "cli" ? "#!/usr/bin/env node" : ""),
    },
  },
  {
    input: { browser: "ts/index.ts", "browser-gpt2": "ts/gpt2.ts" },
    external: (id) => isDep(id),
    plugins: [noNodeBuiltins(), webWithoutGpt2(), wasmAssets({ emit: false }), ts(), minify()],
    onwarn,
    preserveEntrySignatures: "allow-extension",
    output: {
      dir: "dist",
      format: "es",
      entryFileNames: "[name].js",
      // As above: browser-gpt2.js imports the shared code from browser.js.
      manualChunks: (id) => (isGpt2Entry(id) ? undefined : "browser"),
    },
  },
  {
    input: { index: "ts/index.ts", gpt2: "ts/gpt2.ts" },
    external: (id) => id.startsWith("node:") || isDep(id),
    plugins: [dts({ tsconfig: "./tsconfig.json" })],
    onwarn,
    preserveEntrySignatures: "allow-extension",
    output: { dir: "dist", format: "es", entryFileNames: "[name].d.ts", manualChunks: (id) => (isGpt2Entry(id) ? undefined : "index") },
  },
];
