// The test Workers' response: NDJSON lines streamed as `work(line)` writes them, then {"result"} with what it
// returns, or {"error"} if it throws.
export function ndjsonResponse(work) {
  const { readable, writable } = new TransformStream();
  const writer = writable.getWriter();
  const enc = new TextEncoder();
  const line = (o) => writer.write(enc.encode(JSON.stringify(o) + "\n"));
  (async () => {
    try {
      await line({ result: await work(line) });
    } catch (e) {
      await line({ error: String(e && e.stack ? e.stack : e) });
    } finally {
      await writer.close();
    }
  })();
  return new Response(readable, { headers: { "content-type": "application/x-ndjson" } });
}
