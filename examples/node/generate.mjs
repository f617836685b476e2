// Streams text from the model shipped inside the package.
//   node generate.mjs "In the beginning" 200        (or: bun generate.mjs ...)
// in a project where the tnn tarball is installed (README.md, "Install"; the package is not on the npm registry yet).
import { loadModel } from "tnn";

const [prompt = "In the beginning", maxTokens = "200"] = process.argv.slice(2);
// The package finds its own .wasm; the model's config.json is read from beside the weights.
const model = await loadModel(new URL(import.meta.resolve("tnn/models/kjv-byte/model.safetensors")));
for await (const { text } of model.generate(prompt, { maxNewTokens: Number(maxTokens), temperature: 0 })) {
  process.stdout.write(text ?? "");
}
model.dispose();
