/**
 * The package exactly as a user gets it: `npm pack`, then the tarball installed into a scratch project in a temp
 * dir. Runtime tests run their host scripts inside that project, so `import "tnn"` goes through the published
 * `exports` map and only the files listed in `files` exist.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const runtimesDir = join(repoRoot, "test/runtimes");
export const binDir = join(repoRoot, "node_modules/.bin");

function newestMtime(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of readdirSync(p)) m = Math.max(m, newestMtime(join(p, e)));
  return m;
}

/** Rebuilds dist/ when any source of it is newer, so a test never checks a stale bundle. */
export function ensureBuilt(): void {
  const dist = join(repoRoot, "dist/index.js");
  const inputs = [join(repoRoot, "ts"), join(repoRoot, "pkg"), join(repoRoot, "rollup.config.mjs")];
  if (!existsSync(join(repoRoot, "pkg/simd/tnn_bg.wasm"))) throw new Error("pkg/ is missing: run `npm run build:wasm` (or `npm test`, which bootstraps)");
  if (existsSync(dist) && Math.min(...["index.js", "browser.js", "index.d.ts", "tnn-relaxed.wasm", "tnn-simd.wasm", "tnn-scalar.wasm"].map((f) => {
    const p = join(repoRoot, "dist", f);
    return existsSync(p) ? statSync(p).mtimeMs : 0;
  })) >= Math.max(...inputs.map(newestMtime))) return;
  execFileSync(join(binDir, "rollup"), ["-c", "--silent"], { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] });
}

export interface PackedProject {
  /** The scratch project's root: node_modules/tnn is the installed tarball. */
  dir: string;
  tarball: string;
  /** The installed package's root. */
  pkgDir: string;
}

let cached: PackedProject | undefined;

/**
 * Packs the repository and installs the tarball into a scratch project. The result is keyed by the tarball's hash,
 * so test files running in other workers reuse one install.
 */
export function packedProject(): PackedProject {
  cached ??= withBuildLock(pack);
  return cached;
}

/**
 * Test files run in parallel workers: one at a time may rebuild dist/ (rollup empties it first) and pack it.
 * The lock is a directory (mkdir is atomic); a lock older than five minutes is a crashed run's and is taken over.
 */
function withBuildLock<T>(f: () => T): T {
  const lock = join(repoRoot, "node_modules/.tnn-pack-lock");
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as { code?: string }).code !== "EEXIST") throw e;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 5 * 60_000) rmSync(lock, { recursive: true, force: true });
      } catch { /* released meanwhile */ }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    return f();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Scratch projects of earlier tarballs, unused for an hour, are removed so /tmp does not fill up. */
function removeOldScratch(): void {
  for (const e of readdirSync(tmpdir())) {
    if (!e.startsWith("tnn-scratch-")) continue;
    const p = join(tmpdir(), e);
    try {
      if (Date.now() - statSync(p).mtimeMs > 3_600_000) rmSync(p, { recursive: true, force: true });
    } catch { /* another worker removed it */ }
  }
}

function pack(): PackedProject {
  removeOldScratch();
  ensureBuilt();
  const packDir = join(tmpdir(), `tnn-pack-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(packDir, { recursive: true });
  const out = execFileSync("npm", ["pack", "--json", "--pack-destination", packDir, "--ignore-scripts"], {
    cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"],
  });
  const file = (JSON.parse(out) as { filename: string }[])[0]!.filename;
  const packed = join(packDir, file);
  const hash = createHash("sha256").update(readFileSync(packed)).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), `tnn-scratch-${hash}`);
  const tarball = join(dir, file);
  if (!existsSync(join(dir, "node_modules/tnn/package.json"))) {
    const staging = `${dir}.staging-${process.pid}-${randomBytes(4).toString("hex")}`;
    mkdirSync(staging, { recursive: true });
    renameSync(packed, join(staging, file));
    writeFileSync(join(staging, "package.json"), JSON.stringify({
      name: "tnn-scratch", private: true, type: "module", dependencies: { tnn: `file:./${file}` },
    }, null, 2));
    execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], {
      cwd: staging, stdio: ["ignore", "ignore", "inherit"], timeout: 300_000,
    });
    try {
      renameSync(staging, dir);
    } catch (e) {
      // Another worker finished the same install first; theirs is identical.
      if (!existsSync(join(dir, "node_modules/tnn/package.json"))) throw e;
      rmSync(staging, { recursive: true, force: true });
    }
  }
  rmSync(packDir, { recursive: true, force: true });
  return { dir, tarball, pkgDir: join(dir, "node_modules/tnn") };
}

/**
 * A fresh run directory inside the scratch project holding the runtime-neutral harness (scenario.mjs, the host
 * scripts) and the golden fixture, copied now so edits to them never meet a stale copy.
 */
export function runDir(project: PackedProject, name: string, fixture: string): string {
  const d = join(project.dir, `run-${name}-${process.pid}-${randomBytes(3).toString("hex")}`);
  mkdirSync(d, { recursive: true });
  for (const f of ["scenario.mjs", "host-server.mjs"]) cpSync(join(runtimesDir, f), join(d, f));
  cpSync(join(repoRoot, "test/fixtures", fixture), join(d, "fixture"), { recursive: true });
  return d;
}
