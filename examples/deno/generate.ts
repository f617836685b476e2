// Streams text from the model shipped inside the package.
//   deno add npm:tnn && deno run --allow-read generate.ts "In the beginning" 200
import { loadModel } from "tnn";

const [prompt = "In the beginning", maxTokens = "200"] = Deno.args;
const model = await loadModel(new URL(import.meta.resolve("tnn/models/kjv-byte/model.safetensors")));
const out = new TextEncoder();
for await (const { text } of model.generate(prompt, { maxNewTokens: Number(maxTokens), temperature: 0 })) {
  if (text) await Deno.stdout.write(out.encode(text));
}
model.dispose();
