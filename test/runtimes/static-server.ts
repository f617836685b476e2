/** A minimal static file server on 127.0.0.1 for the Chromium test (loopback only, GET only, no directory listing). */
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { extname, join, normalize, sep } from "node:path";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
  ".wasm": "application/wasm", ".safetensors": "application/octet-stream", ".png": "image/png",
};

/**
 * Serves `root`. Paths for which `isolated` says so are sent with COOP/COEP headers, which make such a page
 * cross-origin isolated (SharedArrayBuffer, so tnn's threaded builds); everything is same-origin, so `require-corp`
 * blocks nothing the pages load.
 */
export function serveStatic(root: string, isolated: (pathname: string) => boolean = () => false): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url!, "http://x").pathname)));
    if (req.method !== "GET" || !(path + sep).startsWith(root + sep) && path !== root || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      "content-type": TYPES[extname(path)] ?? "application/octet-stream",
      ...(isolated(new URL(req.url!, "http://x").pathname) ? { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" } : {}),
    });
    createReadStream(path).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => {
    resolve({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` });
  }));
}
