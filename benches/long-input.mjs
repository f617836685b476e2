// The paper-shaped causal LM (d=512, 7 layers, d1=1536, RPE 64×6, λ=0.99, random weights, vocabulary 512) on one
// long input: load time, forward time and peak wasm memory (linear memory only grows, so its final size is the peak).
//
// Usage: node benches/long-input.mjs [--quick] [--n 16384] [--runs 2] [--last-only] [--budget MiB] [--json]
//   --quick      n = 4096, one run (what `npm run bench` runs); prints a markdown table, or JSON with --json
//   --last-only  only the last position's logits (for a decayed model: block by block through the windowed states,
//                in memory independent of n)
//   --budget     the wasm memory budget, which every allocation is checked against before it is made
// The TypeScript sources are loaded through vite's SSR loader, as the tests load them.
import { createServer } from "vite";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const quick = process.argv.includes("--quick");
const n = arg("--n", quick ? 4096 : 16384);
const runs = arg("--runs", quick ? 1 : 2);
const lastOnly = process.argv.includes("--last-only");
const budgetMiB = arg("--budget", undefined);

const server = await createServer({
  root: new URL("..", import.meta.url).pathname,
  configFile: false,
  logLevel: "silent",
  appType: "custom",
  server: { middlewareMode: true, hmr: false, ws: false },
  optimizeDeps: { noDiscovery: true, include: [] },
  // Lowers `using` declarations, which Node 20 cannot parse.
  oxc: { target: "node18" },
});
try {
  const core = await server.ssrLoadModule("/ts/core/index.ts");
  const models = await server.ssrLoadModule("/ts/generate/load.ts");
  const paper = await server.ssrLoadModule("/test/helpers/paper-lm.ts");
  const info = await core.init();
  if (budgetMiB !== undefined) core.setMemoryBudget(budgetMiB * 2 ** 20);
  const file = paper.paperLmFile();
  const ids = paper.paperLmIds(n);
  let t = performance.now();
  const model = await models.loadModel(file, { config: paper.PAPER_LM_CONFIG });
  const loadS = (performance.now() - t) / 1000;
  const afterLoad = core.memoryBytes();
  const times = [];
  for (let r = 0; r < runs; r++) {
    t = performance.now();
    const out = model.forward(ids, { lastOnly });
    times.push((performance.now() - t) / 1000);
    out.dispose();
  }
  const peak = core.memoryBytes();
  model.dispose();
  const mib = (b) => (b / 2 ** 20).toFixed(0);
  const result = {
    build: info.build, n, last_only: lastOnly, budget_mib: budgetMiB ?? null, d_model: 512, layers: 7, d1: 1536, vocab: 512, weights_mib: Number(mib(file.length)),
    load_s: Number(loadS.toFixed(2)), forward_s: times.map((x) => Number(x.toFixed(2))),
    tokens_per_s: Math.round(n / Math.min(...times)), wasm_memory_after_load_mib: Number(mib(afterLoad)), wasm_memory_peak_mib: Number(mib(peak)),
    node: process.version,
  };
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify(result));
  } else {
    console.log(`Paper-shaped causal LM (d = 512, 7 layers, d1 = 1536, random weights, vocabulary 512), one input${lastOnly ? ", last position only" : ""}${budgetMiB ? `, memory budget ${budgetMiB} MiB` : ""}, ${info.build} wasm.\n`);
    console.log("| n | load (" + result.weights_mib + " MiB of f32 weights) | forward | throughput | wasm memory after load | peak wasm memory |");
    console.log("|---:|---:|---:|---:|---:|---:|");
    console.log(`| ${n.toLocaleString("en-US")} | ${result.load_s} s | ${result.forward_s.join(" / ")} s | ${result.tokens_per_s} tokens/s | ` +
      `${result.wasm_memory_after_load_mib} MiB | ${result.wasm_memory_peak_mib} MiB |`);
  }
} finally {
  await server.close();
}
