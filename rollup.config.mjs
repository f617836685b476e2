// Builds the npm package into dist/:
//   index.js      ESM for Node, Deno and Bun (reads its own .wasm from disk through node:fs)
//   browser.js    ESM for browsers and Workers (no node: imports, so bundlers for the web accept it)
//   cli.js        the `tnn` command (Node), sharing index.js
//   index.d.ts    types for both
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

export default [
  {
    input: { index: "ts/index.ts", cli: "ts/cli/tnn.ts" },
    external: (id) => id.startsWith("node:") || isDep(id),
    plugins: [wasmAssets({ emit: true }), ts(), minify()],
    onwarn,
    output: {
      dir: "dist",
      format: "es",
      entryFileNames: "[name].js",
      chunkFileNames: "[name].js",
      // Everything but the CLI lands in index.js (a manual chunk holding an entry module becomes that entry), and
      // cli.js imports it from there, so the two share one wasm instance.
      manualChunks: (id) => (id.includes("/ts/cli/") ? undefined : "tnn"),
      banner: (chunk) => (chunk.name === "cli" ? "#!/usr/bin/env node" : ""),
    },
  },
  {
    input: "ts/index.ts",
    external: (id) => isDep(id),
    plugins: [noNodeBuiltins(), wasmAssets({ emit: false }), ts(), minify()],
    onwarn,
    output: { file: "dist/browser.js", format: "es", inlineDynamicImports: true },
  },
  {
    input: "ts/index.ts",
    external: (id) => id.startsWith("node:") || isDep(id),
    plugins: [dts({ tsconfig: "./tsconfig.json" })],
    onwarn,
    output: { file: "dist/index.d.ts", format: "es" },
  },
];
