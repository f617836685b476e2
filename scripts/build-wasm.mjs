#!/usr/bin/env node
// Builds crates/tnn-wasm twice, as a simd128 module and as a scalar module (with wasm-pack where it is installed and
// can serve), and the wasm-bindgen step with the workspace's own crates/tnn-bindgen.
// Outputs: pkg/simd/tnn.js + tnn_bg.wasm and pkg/scalar/tnn.js + tnn_bg.wasm (both gitignored).
//
// Two toolchains are supported because our CI machines cannot download the wasm32 standard library:
// - rustup with the wasm32-unknown-unknown target installed: a plain `cargo build --target wasm32-unknown-unknown`;
// - Debian's rustc-web + rust-web-src: std is rebuilt from source (-Zbuild-std); README.md's "Building from source" has the details.
// Nothing is rebuilt when the outputs are newer than every Rust source and manifest.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync, mkdirSync } from "node:fs";
import { delimiter, join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const TARGET = "wasm32-unknown-unknown";
const THREAD_LINK = [
  "--shared-memory", "--import-memory", "--max-memory=4294967296",
  "--export=__wasm_init_tls", "--export=__tls_size", "--export=__tls_align", "--export=__tls_base",
].flatMap((a) => ["-C", `link-arg=${a}`]);
const VARIANTS = {
  simd: { rustflags: ["-C", "target-feature=+simd128"] },
  // Fused multiply-add (f32x4.relaxed_madd) where the engine has relaxed SIMD: V8 12+ (Node 22+, Chrome 114+, Deno,
  // workerd). init() probes for it.
  relaxed: { rustflags: ["-C", "target-feature=+simd128,+relaxed-simd"] },
  scalar: { rustflags: [] },
  // The threaded builds: shared memory and atomics, for the worker pool (ts/core/pool.ts). The memory is imported
  // and shared (every worker instantiates the module on it), may grow to all of wasm32's 4 GiB (a shared memory
  // cannot move, so its maximum is reserved up front, as address space only), and wasm-bindgen needs the TLS
  // symbols exported to give each thread its own thread-locals and stack.
  // std itself must be compiled with atomics, so these always rebuild it (-Zbuild-std, as the Debian route does for
  // every build), on rustup too (with the rust-src component).
  "simd-threads": { rustflags: ["-C", "target-feature=+simd128,+atomics,+bulk-memory,+mutable-globals", ...THREAD_LINK], buildStd: true },
  "relaxed-threads": { rustflags: ["-C", "target-feature=+simd128,+relaxed-simd,+atomics,+bulk-memory,+mutable-globals", ...THREAD_LINK], buildStd: true },
};

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts }).trim();
}
function tryRun(cmd, args, opts) {
  try {
    return sh(cmd, args, opts);
  } catch {
    return null;
  }
}

function newestSourceMtime() {
  let newest = 0;
  const visit = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const e of readdirSync(p)) if (e !== "target") visit(join(p, e));
    } else if (/\.(rs|toml)$/.test(p) || p.endsWith("Cargo.lock")) newest = Math.max(newest, st.mtimeMs);
  };
  visit(join(root, "crates"));
  for (const f of ["Cargo.toml", "Cargo.lock"]) if (existsSync(join(root, f))) visit(join(root, f));
  visit(fileURLToPath(import.meta.url));
  return newest;
}

/** Finds a toolchain that can build wasm32: returns the env and extra cargo args to use with it. */
function detectToolchain() {
  const installed = tryRun("rustup", ["target", "list", "--installed"]);
  if (installed && installed.split("\n").includes(TARGET)) {
    return { name: "rustup", env: {}, cargoArgs: [], linkerFlags: [] };
  }
  // Debian's rustc-web installs /usr/bin/rustc (1.96) next to rust-web-src's std sources.
  const debianRustc = "/usr/bin/rustc";
  const sysroot = existsSync(debianRustc) ? tryRun(debianRustc, ["--print", "sysroot"]) : null;
  const haveSrc = sysroot && existsSync(join(sysroot, "lib/rustlib/src/rust/library/std"));
  const linker = ["wasm-ld-22", "wasm-ld", "rust-lld"].find((l) => tryRun("which", [l]));
  if (haveSrc && linker) {
    return {
      name: `debian rustc-web (${tryRun(debianRustc, ["--version"])}) with -Zbuild-std`,
      env: { RUSTC: debianRustc, RUSTC_BOOTSTRAP: "1" },
      cargoArgs: ["-Zbuild-std=std,panic_abort"],
      linkerFlags: ["-C", `linker=${linker}`],
    };
  }
  throw new Error(
    "No Rust toolchain that can build wasm32 was found.\n" +
      "  Either: rustup target add wasm32-unknown-unknown\n" +
      "  Or (Debian): apt-get install rustc-web cargo-web rust-web-src lld-22   (scripts/bootstrap.sh does this)",
  );
}

/**
 * Builds the workspace's own `wasm-bindgen` (crates/tnn-bindgen) for the host and returns its path. It is compiled
 * from Cargo.lock like every other crate, so no separately installed wasm-bindgen-cli is needed, and a fresh clone
 * (empty target/) proves on every CI run that it still builds from the registry.
 */
function buildBindgen() {
  console.error("wasm: cargo build --release -p tnn-bindgen (the wasm-bindgen CLI, from Cargo.lock)");
  // The host build must not see the wasm toolchain's RUSTC or RUSTFLAGS.
  const env = { ...process.env };
  for (const k of ["RUSTC", "RUSTFLAGS", "RUSTC_BOOTSTRAP", "CARGO_TARGET_DIR"]) delete env[k];
  execFileSync("cargo", ["build", "--release", "--locked", "-q", "-p", "tnn-bindgen"], { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
  const bin = join(root, "target", "release", "wasm-bindgen");
  const lock = readFileSync(join(root, "Cargo.lock"), "utf8").match(/name = "wasm-bindgen"\nversion = "([^"]+)"/);
  const have = sh(bin, ["--version"]);
  if (!lock || have !== `wasm-bindgen ${lock[1]}`) {
    throw new Error(`crates/tnn-bindgen says "${have}" but Cargo.lock links wasm-bindgen ${lock?.[1]}; keep their versions equal`);
  }
  return bin;
}

function build() {
  const force = process.argv.includes("--force");
  const outputs = Object.keys(VARIANTS).map((v) => join(root, "pkg", v, "tnn_bg.wasm"));
  if (!force && existsSync(join(root, "Cargo.lock")) && outputs.every(existsSync)) {
    const oldest = Math.min(...outputs.map((o) => statSync(o).mtimeMs));
    if (oldest > newestSourceMtime()) {
      console.error("wasm: up to date");
      return;
    }
  }
  const tc = detectToolchain();
  console.error(`wasm: toolchain ${tc.name}`);
  const bindgen = buildBindgen();
  // wasm-pack checks that the wasm32 target sits in rustc's sysroot, which is never true of the -Zbuild-std route:
  // there the same two steps it runs (cargo build, wasm-bindgen --target web) are run directly. On the rustup route
  // it is used when installed, with our wasm-bindgen first on PATH (`--mode no-install`).
  const useWasmPack = tc.name === "rustup" && tryRun("wasm-pack", ["--version"]) !== null;
  for (const [variant, cfg] of Object.entries(VARIANTS)) {
    const outDir = join(root, "pkg", variant);
    mkdirSync(outDir, { recursive: true });
    const targetDir = join(root, "target", `wasm-${variant}`);
    const env = {
      ...process.env,
      PATH: `${dirname(bindgen)}${delimiter}${process.env.PATH}`,
      ...tc.env,
      // One target dir per variant keeps both builds incremental (wasm-pack finds it through cargo metadata, which
      // honours CARGO_TARGET_DIR).
      CARGO_TARGET_DIR: targetDir,
      RUSTFLAGS: [...cfg.rustflags, ...tc.linkerFlags].join(" "),
      ...(cfg.buildStd ? { RUSTC_BOOTSTRAP: "1" } : {}),
    };
    const cargoArgs = cfg.buildStd && !tc.cargoArgs.some((a) => a.startsWith("-Zbuild-std")) ? [...tc.cargoArgs, "-Zbuild-std=std,panic_abort"] : tc.cargoArgs;
    if (useWasmPack) {
      // --mode no-install: use the wasm-bindgen on PATH (checked above) instead of downloading one;
      // --no-opt: wasm-pack would download binaryen's wasm-opt, which these machines cannot fetch.
      const args = ["build", "crates/tnn-wasm", "--target", "web", "--mode", "no-install", "--no-opt", "--no-pack",
        "--release", "--out-dir", outDir, "--out-name", "tnn", "--", ...cargoArgs];
      console.error(`wasm: wasm-pack ${args.join(" ")}  (RUSTFLAGS=${env.RUSTFLAGS})`);
      execFileSync("wasm-pack", args, { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
    } else {
      const args = ["build", "--release", "--target", TARGET, "-p", "tnn-wasm", ...cargoArgs];
      console.error(`wasm: cargo ${args.join(" ")}  (RUSTFLAGS=${env.RUSTFLAGS})`);
      execFileSync("cargo", args, { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
      const wasm = join(targetDir, TARGET, "release", "tnn_wasm.wasm");
      execFileSync(bindgen, [wasm, "--target", "web", "--out-dir", outDir, "--out-name", "tnn"], {
        cwd: root,
        stdio: ["ignore", "inherit", "inherit"],
      });
    }
    console.error(`wasm: ${variant} -> pkg/${variant}/tnn_bg.wasm (${statSync(join(outDir, "tnn_bg.wasm")).size} bytes)`);
  }
}

try {
  build();
} catch (e) {
  console.error(`build-wasm: ${e.message}`);
  process.exit(1);
}
