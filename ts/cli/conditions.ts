/**
 * The conditions a speed figure was measured under, printed with every `tnn bench` result: throughput on a shared
 * or throttled machine means little without the engine, the wasm build, the CPU and how busy it was.
 * @module
 */
import { availableParallelism, cpus, loadavg, platform, arch } from "node:os";
import { backendInfo, type Build } from "../core/wasm.js";

/** Where and under what load a measurement ran. */
export interface RunConditions {
  /** JavaScript runtime and version: `node 22.23.5`, `bun 1.4.4`, `deno 2.9.6`. */
  readonly runtime: string;
  /** The JavaScript engine's version (V8 or JavaScriptCore), when the runtime reports it. */
  readonly engine: string | undefined;
  /** The wasm build that ran the kernels. */
  readonly build: Build | "not loaded";
  /** Threads the kernels ran on, the calling thread included (0 before the kernels are loaded). */
  readonly threads: number;
  readonly cpu: string;
  /** Cores this process may use. */
  readonly cores: number;
  readonly os: string;
  /** 1-, 5- and 15-minute load averages when the measurement started and when it ended (all 0 where unsupported). */
  readonly loadAverageBefore: readonly number[];
  readonly loadAverageAfter: readonly number[];
}

/** The runtime running this code and its engine. */
export function runtimeOf(): { runtime: string; engine: string | undefined } {
  const g = globalThis as { Deno?: { version: { deno: string; v8: string } } };
  if (g.Deno) return { runtime: `deno ${g.Deno.version.deno}`, engine: `V8 ${g.Deno.version.v8}` };
  const v = process.versions as Record<string, string | undefined>;
  if (v.bun) return { runtime: `bun ${v.bun}`, engine: v.webkit ? `JavaScriptCore (WebKit ${v.webkit})` : "JavaScriptCore" };
  return { runtime: `node ${v.node}`, engine: v.v8 ? `V8 ${v.v8}` : undefined };
}

/** Starts a measurement: takes the load average now; `finish()` takes it again and returns the whole record. */
export function startConditions(): { finish(): RunConditions } {
  const before = loadavg();
  return {
    finish: () => {
      const list = cpus();
      return {
        ...runtimeOf(),
        build: backendInfo()?.build ?? "not loaded",
        threads: backendInfo()?.threads ?? 0,
        cpu: list[0]?.model.trim() || "unknown CPU",
        cores: availableParallelism(),
        os: `${platform()} ${arch()}`,
        loadAverageBefore: before,
        loadAverageAfter: loadavg(),
      };
    },
  };
}

/** One line for a report: `node 22.23.5 (V8 …), wasm simd build on 2 threads, 2 cores (AMD EPYC 7B13), linux x64, load average …`. */
export function formatConditions(c: RunConditions): string {
  const la = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(" ");
  return `${c.runtime}${c.engine ? ` (${c.engine})` : ""}, wasm ${c.build} build on ${c.threads} thread${c.threads === 1 ? "" : "s"}, ${c.cores} core${c.cores === 1 ? "" : "s"} (${c.cpu}), ${c.os}; ` +
    `load average (1, 5, 15 min) ${la(c.loadAverageBefore)} before, ${la(c.loadAverageAfter)} after`;
}
