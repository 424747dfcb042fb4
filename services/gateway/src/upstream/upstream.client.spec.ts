import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JsonLogger } from '@omnipay/observability';
import type { GatewayConfig } from '../config';
import { UpstreamClient } from './upstream.client';

/** A service that answers every request with `status` and a JSON error of `code`. */
async function service(status: number, code: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message: code } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function statusFor(status: number, code: string): Promise<{ status: number; message: string }> {
  const { url, server } = await service(status, code);
  try {
    const client = new UpstreamClient(
      { TERMINAL_URL: url, UPSTREAM_TIMEOUT_MS: 2000 } as GatewayConfig,
      {} as JsonLogger,
    );
    const error = await client.call('terminal', 'POST', '/x', {}).then(
      () => undefined,
      (e: { getStatus(): number; message: string }) => e,
    );
    return { status: error!.getStatus(), message: error!.message };
  } finally {
    server.close();
  }
}

describe("a service's server errors, as the client sees them", () => {
  it("passes a service's timeout behind it on as 504 with its reason: the outcome is unknown", async () => {
    const seen = await statusFor(504, 'payments_unavailable');
    expect(seen.status).toBe(504);
    expect(seen.message).toContain('payments_unavailable');
  });

  it('answers 502 for another failure and 503 for a busy service', async () => {
    expect((await statusFor(500, 'internal')).status).toBe(502);
    expect((await statusFor(503, 'busy')).status).toBe(503);
  });
});
