// A Worker for a GPT-2-vocabulary model: the browser/Worker build of "tnn" leaves GPT-2's vocabulary out, and the
// tokenizer comes from "tnn/gpt2", as README.md says. Answers with what each gave, in this order: the main entry's own
// loader first (it must refuse, saying where to look), then tnn/gpt2's, then the main entry's again (the vocabulary
// is loaded once per isolate, so it now has it).
import { Gpt2Tokenizer } from "tnn";
import { loadGpt2Tokenizer } from "tnn/gpt2";

export default {
  async fetch(request) {
    if (new URL(request.url).pathname !== "/run") return new Response(null, { status: 204 });
    let mainEntry;
    try {
      await Gpt2Tokenizer.load();
      mainEntry = { loaded: true };
    } catch (e) {
      mainEntry = { name: e.name, message: e.message };
    }
    const tokenizer = await loadGpt2Tokenizer();
    const after = await Gpt2Tokenizer.load();
    return Response.json({
      ids: Array.from(tokenizer.encode("Hello world")), sameClass: tokenizer instanceof Gpt2Tokenizer, mainEntry,
      mainEntryAfter: Array.from(after.encode("Hello world")),
    });
  },
};
