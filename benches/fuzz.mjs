// Fuzzing the built package's public API with the hostile inputs of test/fuzz/cases.mjs: mutated model files,
// every kind of source (chunked, failing, locked, detached, careless BYOB streams), configs, tokenizer input, token
// ids and generate options. Counts how each attempt ended; the contract is that every call settles and every failure
// is a TnnError. Exit status 1 if any attempt broke it.
//
// Usage: node benches/fuzz.mjs [--cases 20000] [--seed 1] [--md FILE]    (needs `npm run build`)
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import fc from "fast-check";
import { config, decoderUse, driveDecoder, generateOptions, ids, keepsContract, notText, outcome, safetensorsFile, source } from "../test/fuzz/cases.mjs";

const argv = process.argv.slice(2);
const value = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const total = Number(value("cases", "20000"));
const seed = Number(value("seed", "1"));
const mdFile = value("md", undefined);

const tnn = await import("../dist/index.js");
await tnn.init();
const FILE = new Uint8Array(readFileSync(new URL("../test/fixtures/official/tnn_v2_decay_99_pre/model.safetensors", import.meta.url)));
const model = await tnn.loadModel(FILE, { tokenizer: "none" });
const byte = new tnn.ByteTokenizer();
const gpt2 = await tnn.Gpt2Tokenizer.load();
const loadBefore = loadavg()[0];

/** Each family: an arbitrary and what one attempt does with a value of it. Weights split the case budget. */
const families = [
  ["model files (bytes)", 6, safetensorsFile(FILE), async (file) => (await tnn.loadModel(file, { kind: "auto" })).dispose()],
  ["model files (streamed)", 2, safetensorsFile(FILE), async (file) => {
    let at = 0;
    const s = new ReadableStream({ pull(c) { if (at >= file.length) return c.close(); c.enqueue(file.slice(at, at + 777)); at += 777; } });
    (await tnn.loadModel(s, { kind: "auto" })).dispose();
  }],
  ["sources", 2, source(FILE), async (make) => (await tnn.loadModel(make(), { tokenizer: "none" })).dispose()],
  ["configs", 4, config, async (c) => {
    try {
      tnn.configFromJSON(c);
    } catch (e) {
      if (!(e instanceof tnn.ConfigError)) throw e;
    }
    (await tnn.loadModel(FILE, { config: c, kind: "auto" })).dispose();
  }],
  ["tokenizer round trips", 2, fc.string({ unit: "grapheme" }), async (s) => {
    if (byte.decode(byte.encode(s)) !== s || gpt2.decode(gpt2.encode(s)) !== s) throw new Error("round trip lost text");
  }],
  ["tokenizer bad input", 1, notText, async (x) => {
    byte.encode(x);
  }],
  ["forward ids", 2, ids(model.vocabSize), async (x) => model.forward(x).dispose()],
  ["decoder options and calls", 1, decoderUse(model.vocabSize), async (use) => driveDecoder(model, use)],
  ["generate options", 1, generateOptions, async (o) => {
    for await (const _ of model.generate([5, 6, 7], o)) void _;
  }],
];

const weightSum = families.reduce((s, f) => s + f[1], 0);
const rows = [];
let broken = 0;
const t0 = performance.now();
for (const [name, weight, arb, attempt] of families) {
  const n = Math.round((total * weight) / weightSum);
  const counts = new Map();
  // In batches: a sample of model files holds a copy of the file each, too many to keep at once.
  const batches = [];
  for (let done = 0, b = 0; done < n; done += 500, b++) batches.push(() => fc.sample(arb, { numRuns: Math.min(500, n - done), seed: seed * 100_003 + b }));
  for (const value of (function* () { for (const batch of batches) yield* batch(); })()) {
    const o = await outcome(tnn, () => attempt(value));
    const key = o.startsWith("other:") || o.startsWith("trap") || o === "hang" ? o.split(":").slice(0, 2).join(":") : o;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (!keepsContract(o)) {
      broken++;
      if (broken <= 10) console.error(`${name}: ${o}`);
    }
  }
  rows.push([name, n, counts]);
  console.error(`${name}: ${n} cases`);
}
const seconds = (performance.now() - t0) / 1000;
model.dispose();

const fmt = (n) => n.toLocaleString("en-US");
const outcomeList = (counts) => [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
const cases = rows.reduce((s, r) => s + r[1], 0);
const tally = (pred) => rows.reduce((s, r) => s + [...r[2]].filter(([k]) => pred(k)).reduce((a, [, v]) => a + v, 0), 0);
const out = [
  `### Fuzzing the public API — \`node benches/fuzz.mjs --cases ${total} --seed ${seed}\``,
  "",
  `${cpus()[0]?.model ?? "unknown CPU"}, ${cpus().length} cores, Node ${process.version}, ${tnn.backendInfo()?.build} build; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after; ${seconds.toFixed(0)} s.`,
  "",
  "| family | cases | outcomes |",
  "| --- | ---: | --- |",
  ...rows.map(([name, n, counts]) => `| ${name} | ${fmt(n)} | ${outcomeList(counts)} |`),
  "",
  `**${fmt(cases)} cases**: ${fmt(tally((k) => k === "ok"))} ok, ${fmt(tally((k) => k.startsWith("TnnError:")))} typed errors, ` +
    `${fmt(tally((k) => k.startsWith("other:")))} other exceptions, ${fmt(tally((k) => k.startsWith("trap")))} traps, ` +
    `${fmt(tally((k) => k === "hang"))} hangs. Wasm memory after the run: ${(tnn.memoryBytes() / 2 ** 20).toFixed(1)} MiB ` +
    `(${(tnn.heapInUse() / 2 ** 20).toFixed(1)} MiB in use).`,
  "",
];
const text = out.join("\n");
console.log(text);
if (mdFile) writeFileSync(mdFile, text);
process.exit(broken ? 1 : 0);
