/**
 * What only a new machine does, done on every run: CI reuses a machine where crates and npm packages from earlier
 * runs are cached, so a download that no longer works (a yanked crate, a tarball gone from the registry, a lock file
 * out of step with its manifest, a platform package missing from package-lock.json) would pass CI and break the
 * README's first command for the next newcomer. Each download runs here into an empty throwaway home:
 *
 * - `cargo fetch --locked` of the workspace (every crate Cargo.lock pins, host and wasm32);
 * - on the Debian `-Zbuild-std` route (scripts/build-wasm.mjs), `cargo fetch --locked` of the std sources'
 *   own workspace, the crates std is rebuilt from, pinned by the Cargo.lock under the rustc sysroot;
 * - `npm ci` from package-lock.json with an empty npm cache, then the tools the scripts and tests run;
 * - on Debian, the system packages scripts/bootstrap.sh installs: apt resolves each from its lists into an empty
 *   archive directory, and the mirror answers for every file it would download (a HEAD request, not 200 MB).
 */
import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "./runtimes/packed-project.js";

const run = promisify(execFile);
const TIMEOUT = 600_000;
const homes: string[] = [];

function emptyDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `tnn-fresh-${name}-`));
  homes.push(d);
  return d;
}

/** Runs a download step; on failure, says what a new machine would have hit, with the tool's own output. */
async function download(what: string, hint: string, cmd: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv }): Promise<string> {
  try {
    const r = await run(cmd, args, { ...opts, timeout: TIMEOUT, maxBuffer: 64 * 2 ** 20 });
    return r.stdout + r.stderr;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${what} failed from an empty home, as on a new machine: ${hint}\n$ ${cmd} ${args.join(" ")}\n` +
      `${(err.stderr ?? "").slice(-4000)}${(err.stdout ?? "").slice(-2000)}\n${err.message}`);
  }
}

/** The Debian route's std sources, when scripts/build-wasm.mjs would take that route (no rustup wasm32 target). */
async function buildStdSources(): Promise<string | undefined> {
  const rustupTargets = await run("rustup", ["target", "list", "--installed"]).then((r) => r.stdout, () => "");
  if (rustupTargets.split("\n").includes("wasm32-unknown-unknown")) return undefined;
  const sysroot = await run("/usr/bin/rustc", ["--print", "sysroot"]).then((r) => r.stdout.trim(), () => undefined);
  const library = sysroot && join(sysroot, "lib/rustlib/src/rust/library");
  return library && existsSync(join(library, "Cargo.lock")) ? library : undefined;
}

/** Every package scripts/bootstrap.sh may `apt-get install` (read from the script, so the list cannot drift). */
function bootstrapAptPackages(): string[] {
  const script = readFileSync(join(repoRoot, "scripts/bootstrap.sh"), "utf8");
  const listed = /for p in ([^;]+); do/.exec(script)?.[1]?.trim().split(/\s+/) ?? [];
  const direct = [...script.matchAll(/as_root_apt_install ([a-z0-9.+-]+)$/gm)].map((m) => m[1]!);
  return [...listed, ...direct];
}

afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

describe("a new machine's downloads, from empty caches", () => {
  it("cargo fetch --locked: the workspace's crates", async () => {
    const home = emptyDir("cargo");
    await download("cargo fetch --locked of the workspace",
      "crates.io unreachable, a pinned crate yanked or gone, or Cargo.lock out of date with a Cargo.toml (run `cargo update -w`)",
      "cargo", ["fetch", "--locked", "--manifest-path", join(repoRoot, "Cargo.toml")], { env: { ...process.env, CARGO_HOME: home } });
    // wasm-bindgen's CLI is built from these (crates/tnn-bindgen), so it must be among them.
    expect(existsSync(join(home, "registry/cache"))).toBe(true);
  });

  it("cargo fetch --locked: the crates -Zbuild-std rebuilds std from (Debian route)", async (ctx) => {
    const library = await buildStdSources();
    if (!library) {
      ctx.skip(); // rustup with the wasm32 target: std comes prebuilt, nothing to fetch
      return;
    }
    const home = emptyDir("cargo-std");
    // As scripts/build-wasm.mjs builds: Debian's rustc, nightly features unlocked; only what wasm32 needs.
    await download("cargo fetch --locked of the std sources",
      `crates.io unreachable, or ${join(library, "Cargo.lock")} no longer resolvable (a new rust-web-src?)`,
      "cargo", ["fetch", "--locked", "--target", "wasm32-unknown-unknown", "--manifest-path", join(library, "Cargo.toml")],
      { env: { ...process.env, CARGO_HOME: home, RUSTC: "/usr/bin/rustc", RUSTC_BOOTSTRAP: "1" } });
    expect(existsSync(join(home, "registry/cache"))).toBe(true);
  });

  it("apt: the Debian packages bootstrap installs resolve, and the mirror serves every file (Debian, as root)", async (ctx) => {
    if (!existsSync("/usr/bin/apt-get") || process.getuid?.() !== 0) {
      ctx.skip(); // bootstrap only installs system packages as root with apt; elsewhere it prints what to install
      return;
    }
    const packages = bootstrapAptPackages();
    expect(packages).toEqual(expect.arrayContaining(["rustc-web", "cargo-web", "rust-web-src", "lld-22", "chromium", "firefox-esr"]));
    const archives = emptyDir("apt");
    mkdirSync(join(archives, "partial"));
    // As bootstrap does: fresh lists first, then what a new machine would fetch into an empty archive directory.
    await download("apt-get update", "the Debian mirror unreachable", "apt-get", ["update", "-qq"], { env: process.env });
    const plan = await download(`apt-get install ${packages.join(" ")}`, "a package no longer in the Debian lists, or renamed",
      "apt-get", ["install", "--reinstall", "--print-uris", "-qq", "-o", `Dir::Cache::Archives=${archives}`, ...packages], { env: process.env });
    const uris = [...plan.matchAll(/^'(https?:\/\/[^']+)'/gm)].map((m) => m[1]!);
    expect(uris.length).toBeGreaterThanOrEqual(packages.length);
    for (const uri of uris) {
      const r = await fetch(uri, { method: "HEAD" });
      expect(r.status, `${uri}: a file apt would download is not on the mirror`).toBe(200);
    }
  });

  it("npm ci with an empty cache, and the tools the scripts and tests run from it", async () => {
    const dir = emptyDir("npm");
    for (const f of ["package.json", "package-lock.json"]) copyFileSync(join(repoRoot, f), join(dir, f));
    const env: NodeJS.ProcessEnv = {};
    // npm's run-script variables (prefix, cache) must not leak in: this install is the new machine's. And npm runs
    // under the system's Node, as in scripts/bootstrap.sh (node_modules/.bin/node, first on PATH under `npm test`, is
    // a Node whose npm would read another global npmrc, and so miss a CA file set there).
    for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
    env.PATH = (process.env.PATH ?? "").split(":").filter((p) => !/node_modules[/\\]\.bin|node-gyp-bin/.test(p)).join(":");
    await download("npm ci", "the registry unreachable, a tarball gone or its integrity changed, or package-lock.json out of date " +
      "with package.json (run `npm install` and commit the lock)",
      "npm", ["ci", "--cache", join(dir, ".npm-cache"), "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, env: { ...env, npm_config_prefer_online: "true" } });
    const bin = join(dir, "node_modules");
    const version = async (cmd: string, args: string[] = ["--version"]) => (await run(cmd, args, { env })).stdout.trim();
    expect(await version(join(bin, "node22/bin/node"))).toMatch(/^v22\./);
    expect(await version(join(bin, "node24/bin/node"))).toMatch(/^v24\./);
    expect(await version(join(bin, ".bin/deno"))).toMatch(/^deno 2\./);
    expect(await version(join(bin, ".bin/bun"))).toMatch(/^1\./);
    expect(await version(join(bin, "node22/bin/node"), [join(bin, "typescript/bin/tsc"), "--version"])).toMatch(/^Version 5\./);
    expect(existsSync(join(bin, "workerd/bin/workerd"))).toBe(true);
  });
});
