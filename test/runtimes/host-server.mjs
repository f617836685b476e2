// Host for the server-side runtimes (Node, Deno, Bun): reads the fixture beside this file and the model shipped in
// the installed package, runs the scenario and writes NDJSON to stdout: one {"token"} line per generated token as it
// comes, then {"result"}.
import * as tnn from "tnn";
import { readFile } from "node:fs/promises";
import { runScenario } from "./scenario.mjs";

const dir = new URL("./fixture/", import.meta.url);
const fx = {
  config: JSON.parse(await readFile(new URL("config.json", dir), "utf8")),
  input: JSON.parse(await readFile(new URL("input.json", dir), "utf8")),
  weights: new Uint8Array(await readFile(new URL("model.safetensors", dir))),
};
const shipped = {
  config: JSON.parse(await readFile(new URL(import.meta.resolve("tnn/models/kjv-byte/config.json")), "utf8")),
  weights: new Uint8Array(await readFile(new URL(import.meta.resolve("tnn/models/kjv-byte/model.safetensors")))),
};
const line = (o) => new Promise((resolve) => process.stdout.write(JSON.stringify(o) + "\n", resolve));
const result = await runScenario(tnn, fx, shipped, { onToken: (t) => line({ token: t }) });
await line({ result });
