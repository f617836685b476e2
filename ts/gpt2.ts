/**
 * `tnn/gpt2`: GPT-2's BPE tokenizer with its vocabulary, for models with GPT-2's 50,257 tokens (the official TNN
 * checkpoints, through their fairseq `dict.txt`).
 *
 * A separate entry because the vocabulary (npm gpt-tokenizer) is about 1 MB of JavaScript: a Worker or web bundle
 * that never imports `tnn/gpt2` never contains it. In Node, Deno and Bun, `loadModel` finds the vocabulary by
 * itself; in the browser/Worker build it does not, and a GPT-2-vocabulary model needs the tokenizer from here:
 *
 * ```ts
 * import { loadModel } from "tnn";
 * import { loadGpt2Tokenizer } from "tnn/gpt2";
 * const model = await loadModel(source, { tokenizer: await loadGpt2Tokenizer({ dictionary }) });
 * ```
 * @packageDocumentation
 */
import * as r50k from "gpt-tokenizer/encoding/r50k_base";
import ranks from "gpt-tokenizer/bpeRanks/r50k_base";
import { type FairseqDictionary } from "./generate/fairseq-dictionary.js";
import { type Gpt2Tokenizer, loadGpt2TokenizerWith } from "./generate/gpt2-tokenizer.js";

export { Gpt2Tokenizer, GPT2_EOS_ID, GPT2_VOCAB_SIZE } from "./generate/gpt2-tokenizer.js";
export { FairseqDictionary } from "./generate/fairseq-dictionary.js";

/**
 * GPT-2's BPE, or with `dictionary` (a fairseq `dict.txt`, text or bytes) the numbering of a fairseq checkpoint.
 * Pass it to `loadModel(source, { tokenizer })`.
 * @throws {TokenizerError} a malformed dictionary
 */
export function loadGpt2Tokenizer(options: { dictionary?: string | Uint8Array | FairseqDictionary } = {}): Promise<Gpt2Tokenizer> {
  return loadGpt2TokenizerWith(async () => ({ bpe: r50k, ranks }), options);
}
