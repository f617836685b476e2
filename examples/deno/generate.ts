// Streams text from the model shipped inside the package.
//   deno run --allow-read generate.ts "In the beginning" 200
// in a project where the tnn tarball is installed into node_modules (README.md, "Install"; the package is not on
// the npm registry yet, so `deno add npm:tnn` cannot find it).
import { loadModel } from "tnn";

const [prompt = "In the beginning", maxTokens = "200"] = Deno.args;
const model = await loadModel(new URL(import.meta.resolve("tnn/models/kjv-byte/model.safetensors")));
const out = new TextEncoder();
for await (const { text } of model.generate(prompt, { maxNewTokens: Number(maxTokens), temperature: 0 })) {
  if (text) await Deno.stdout.write(out.encode(text));
}
model.dispose();
