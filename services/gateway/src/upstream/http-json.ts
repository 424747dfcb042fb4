import http from 'node:http';

/**
 * Internal calls go over plain `node:http` with a keep-alive pool rather than global `fetch`: on the checkout
 * path fetch's web streams cost more CPU than the rest of the gateway's request together (measured with
 * `--cpu-prof` in bench/platform/checkout.bench.ts).
 */
// `timeout` makes the agent honour the services' `Keep-Alive: timeout=N` hint (it retires an idle socket a second
// before the service would close it; with no timeout of its own, Node 20's agent ignores the hint) and bounds
// how long an idle socket is kept at all.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, scheduling: 'lifo', timeout: 30000 });

export class UpstreamTimeout extends Error {}

export interface JsonRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

/** One request with a JSON body (if any); resolves with the status and the body as text, whatever the status. */
export function sendJson(url: string, request: JsonRequest): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const headers: Record<string, string | number> = { accept: 'application/json', ...request.headers };
    if (request.body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(request.body);
    }
    const req = http.request(url, { method: request.method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 502, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
    });
    // The deadline covers the whole exchange (connect, answer and body), as AbortSignal.timeout did for fetch.
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(new UpstreamTimeout(`no answer within ${request.timeoutMs} ms`));
    }, request.timeoutMs);
    function fail(error: Error): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(error);
    }
    req.on('error', fail);
    req.end(request.body);
  });
}
