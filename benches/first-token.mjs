// First-token latency and memory against maxNewTokens: a generation asked for 60,000 tokens and stopped after 200
// must cost what one asked for 200 costs, because decode states grow with the tokens generated instead of reserving
// the ceiling. Each run is its own Node process (so its peak RSS is its own): load the shipped model, generate with
// the given maxNewTokens, abort after 200 tokens; the child reports time to the first token, time for all 200, the
// process's peak RSS and the wasm heap in use at token 200.
//
// Usage: node benches/first-token.mjs [--runs 5] [--ceilings 200,60000] [--md FILE]
// Needs `npm run build`.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const argv = process.argv.slice(2);
const value = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const STOP_AFTER = 200;
const modelFile = fileURLToPath(new URL("../models/kjv-byte/model.safetensors", import.meta.url));

if (argv.includes("--child")) {
  const ceiling = Number(value("child", "200"));
  const { loadModel, generate, heapInUse } = await import("../dist/index.js");
  const model = await loadModel(modelFile);
  const ac = new AbortController();
  const t0 = performance.now();
  let first = 0;
  let n = 0;
  let heap = 0;
  for await (const _ of generate(model, "In the beginning", { maxNewTokens: ceiling, seed: 1, signal: ac.signal })) {
    if (++n === 1) first = performance.now() - t0;
    if (n === STOP_AFTER) {
      heap = heapInUse();
      ac.abort();
    }
  }
  const total = performance.now() - t0;
  model.dispose();
  // maxRSS is in KiB.
  console.log(JSON.stringify({ ceiling, n, first, total, rss: process.resourceUsage().maxRSS * 1024, heap }));
  process.exit(0);
}

const runs = Number(value("runs", "5"));
const ceilings = value("ceilings", `${STOP_AFTER},60000`).split(",").map(Number);
const mdFile = value("md", undefined);
const load0 = loadavg()[0];
const results = new Map(ceilings.map((c) => [c, []]));
// Interleaved, so a change in machine load touches every ceiling alike.
for (let r = 0; r < runs; r++) {
  for (const c of ceilings) {
    const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--child", String(c)], { encoding: "utf8" });
    const row = JSON.parse(out.trim().split("\n").at(-1));
    if (row.n !== STOP_AFTER && row.n !== c) throw new Error(`run stopped after ${row.n} tokens`);
    results.get(c).push(row);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mib = (b) => (b / 2 ** 20).toFixed(1);
const base = results.get(ceilings[0]);
const lines = [
  `Machine: ${cpus().length}× ${cpus()[0].model}; Node ${process.version}; load average ${load0.toFixed(2)} at start, ` +
    `${loadavg()[0].toFixed(2)} at end; model: models/kjv-byte; prompt "In the beginning", stopped after ${STOP_AFTER} ` +
    `tokens; ${runs} runs per ceiling, each a fresh process, interleaved; medians (min–max).`,
  "",
  "| maxNewTokens | first token (ms) | 200 tokens (ms) | peak RSS (MiB) | wasm heap in use (MiB) | first token / RSS vs 200 |",
  "|---:|---:|---:|---:|---:|---:|",
];
for (const c of ceilings) {
  const rs = results.get(c);
  const col = (f, fmt) => `${fmt(median(rs.map(f)))} (${fmt(Math.min(...rs.map(f)))}–${fmt(Math.max(...rs.map(f))) })`;
  const ratio = `${(median(rs.map((r) => r.first)) / median(base.map((r) => r.first))).toFixed(2)}× / ` +
    `${(median(rs.map((r) => r.rss)) / median(base.map((r) => r.rss))).toFixed(2)}×`;
  lines.push(
    `| ${c.toLocaleString("en-US")} | ${col((r) => r.first, (x) => x.toFixed(1))} | ${col((r) => r.total, (x) => x.toFixed(0))} | ` +
      `${col((r) => r.rss, mib)} | ${mib(median(rs.map((r) => r.heap)))} | ${ratio} |`,
  );
}
const md = lines.join("\n");
console.log(md);
if (mdFile) writeFileSync(mdFile, md + "\n");
