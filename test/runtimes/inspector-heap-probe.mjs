// Fetches a Worker's URL while polling the isolate's heap over workerd's inspector (Chrome DevTools protocol,
// `Runtime.getHeapUsage` every 10 ms), then prints the Worker's NDJSON lines and a last {"heap": maxima} line:
// usedSize and totalSize of the JS heap, and backingStorageSize, the ArrayBuffers outside it (wasm memory is not
// among them). Needs a global WebSocket (Node 22 and later).
// Usage: node inspector-heap-probe.mjs INSPECTOR_PORT URL
const [port, url] = process.argv.slice(2);
const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
if (!targets.length) throw new Error("no inspector target");
const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  ws.addEventListener("open", resolve);
  ws.addEventListener("error", reject);
});
let nextId = 0;
const pending = new Map();
ws.addEventListener("message", (e) => {
  const m = JSON.parse(e.data);
  pending.get(m.id)?.(m);
  pending.delete(m.id);
});
const call = (method) => new Promise((resolve) => {
  const id = ++nextId;
  pending.set(id, resolve);
  ws.send(JSON.stringify({ id, method }));
});
const max = {};
let done = false;
const body = fetch(url).then((r) => r.text()).finally(() => (done = true));
while (!done) {
  const m = await call("Runtime.getHeapUsage");
  for (const [k, v] of Object.entries(m.result ?? {})) max[k] = Math.max(max[k] ?? 0, v);
  await new Promise((r) => setTimeout(r, 10));
}
process.stdout.write(await body);
process.stdout.write(JSON.stringify({ heap: max }) + "\n");
ws.close();
