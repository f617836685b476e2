/** Runs a runtime as a child process with a hard time limit, and reads the NDJSON a host script writes. */
import { spawn } from "node:child_process";

export interface Ndjson {
  lines: Record<string, unknown>[];
  stderr: string;
}

/** Spawns `cmd`, kills its whole process group at `timeoutMs`, and parses stdout as NDJSON. Rejects on failure. */
export function runNdjson(cmd: string, args: string[], opts: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<Ndjson> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch { /* already gone */ }
    }, opts.timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${cmd} ${args.join(" ")} exited with ${code ?? signal}\nstderr:\n${err}\nstdout:\n${out.slice(0, 4000)}`));
        return;
      }
      try {
        resolve({ lines: out.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>), stderr: err });
      } catch (e) {
        reject(new Error(`bad NDJSON from ${cmd}: ${(e as Error).message}\n${out.slice(0, 4000)}`));
      }
    });
  });
}

/** Splits host output into the streamed tokens and the final result. */
export function tokensAndResult<R, T>(lines: Record<string, unknown>[]): { streamed: T[]; result: R } {
  const streamed = lines.filter((l) => "token" in l).map((l) => l.token as T);
  const last = lines.at(-1);
  if (!last || !("result" in last)) throw new Error(`no result line in ${JSON.stringify(lines).slice(0, 2000)}`);
  return { streamed, result: last.result as R };
}
