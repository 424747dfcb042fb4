import { createServer, type Server } from 'node:http';
import { mintToken } from '@omnipay/auth';
import Redis from 'ioredis';
import { ServiceProcess, TestDatabase, engines, eventually, freePort, isolatedServiceEnv, uniqueName } from '@omnipay/testing';

/**
 * The gateway's own protections, with a stand-in upstream that answers slowly: rate limits (Redis), body size
 * limits, upstream timeouts as 504, correlation ids on every response.
 */
// Room for the other tests' unauthenticated calls from loopback in the same minute.
const UNAUTHENTICATED_LIMIT = 12;

/** Rate limits count in fixed minutes: a test that counts its answers must not straddle the turn of one. */
async function awayFromMinuteEdge(): Promise<void> {
  const second = (Date.now() / 1000) % 60;
  if (second > 55) await new Promise((r) => setTimeout(r, (61 - second) * 1000));
}

describe('gateway edges', () => {
  const run = uniqueName('gw_edges');
  const secret = 'edges-test-jwt-secret-0123456789';
  // A rotation in progress: tokens signed with the previous key are still accepted.
  const metricsToken = 'edges-test-metrics-token-0123';
  const previousSecret = 'edges-test-previous-jwt-secret-01';
  const [issuer, audience] = ['https://id.edges.test', 'edges-gateway'];
  let upstream: Server;
  let gateway: ServiceProcess;
  const db = new TestDatabase(engines().databaseUrl);

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      // Slow enough to trip the gateway's 300 ms upstream timeout.
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        // A service's own error bodies ({ error: { code, message, details } }), for the public shape.
        if (req.url?.includes('/customers/refused/'))
          return void res.writeHead(422).end(JSON.stringify({ error: { code: 'stripe_rejected', message: 'Stripe said no', details: { param: 'customer' } } }));
        if (req.url?.includes('/customers/invalid/'))
          return void res.writeHead(400).end(JSON.stringify({ error: { code: 'invalid_request', message: 'the request is invalid', details: [{ field: 'email', message: 'an email' }] } }));
        res.end(JSON.stringify({ orders: [], nextCursor: null }));
      }, req.url?.includes('/customers/slow') ? 1500 : 0);
    });
    const upstreamPort = await freePort();
    await new Promise<void>((r) => upstream.listen(upstreamPort, '127.0.0.1', () => r()));
    gateway = await new ServiceProcess({
      entry: 'services/gateway/src/main.ts',
      port: await freePort(),
      env: {
        ...isolatedServiceEnv(run),
        // An edge: it must neither need nor touch PostgreSQL or Kafka (these point at nothing).
        DATABASE_URL: 'postgres://127.0.0.1:1/none',
        KAFKA_BROKERS: '127.0.0.1:1',
        JWT_SECRET: `${secret},${previousSecret}`,
        JWT_ISSUER: issuer,
        JWT_AUDIENCE: audience,
        ORDERS_URL: `http://127.0.0.1:${upstreamPort}`,
        PAYMENTS_URL: `http://127.0.0.1:${upstreamPort}`,
        UPSTREAM_TIMEOUT_MS: '300',
        RATE_LIMIT_PER_MINUTE: '5',
        RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: String(UNAUTHENTICATED_LIMIT),
        BODY_LIMIT: '2kb',
        METRICS_TOKEN: metricsToken,
      },
    }).start();
  }, 60000);

  afterAll(async () => {
    await gateway?.stop();
    upstream?.close();
    await db.dropSchema(run);
    await db.close();
  });

  const call = (sub: string, path: string, init: RequestInit = {}) =>
    fetch(`${gateway.url}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${mintToken({ sub, role: 'customer', iss: issuer, aud: audience }, secret)}`,
        'content-type': 'application/json',
        ...(init.headers ?? {}),
      },
    });

  it('is ready with Redis alone: no PostgreSQL schema, no Kafka', async () => {
    const res = await fetch(`${gateway.url}/health/ready`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { checks: Record<string, { status: string }> }).checks).toEqual({
      redis: expect.objectContaining({ status: 'up' }),
    });
    expect(await db.scalar<number>(`SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, [run])).toBe(0);
  });

  it('turns an upstream that does not answer in time into a 504', async () => {
    const res = await call('slow', '/v1/orders');
    expect(res.status).toBe(504);
    expect(((await res.json()) as { message: string }).message).toMatch(/did not answer within 300 ms/);
  });

  it('limits each client per route and minute, with Retry-After, without touching other clients', async () => {
    await awayFromMinuteEdge();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await call('busy_client', '/v1/orders')).status);
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const limited = await call('busy_client', '/v1/orders');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call('calm_client', '/v1/orders')).status).toBe(200);
    // Each window's counter expires just after the window: a client that stops calling leaves nothing behind.
    const redis = new Redis(engines().redisUrl, { keyPrefix: isolatedServiceEnv(run).REDIS_KEY_PREFIX });
    try {
      const window = Math.floor(Date.now() / 60000);
      const ttls = await Promise.all(
        [window - 1, window].map((w) => redis.pttl(`ratelimit:busy_client:GET:/v1/orders:${w}`)),
      );
      const live = ttls.filter((t) => t !== -2); // the calls may straddle a minute boundary
      expect(live.length).toBeGreaterThan(0);
      for (const ttl of live) expect(ttl).toBeGreaterThan(0);
      for (const ttl of live) expect(ttl).toBeLessThanOrEqual(61000);
    } finally {
      redis.disconnect();
    }
  });

  it('refuses an oversized body with 413 before it is parsed', async () => {
    const res = await call('big_body', '/v1/checkout', { method: 'POST', body: JSON.stringify({ pad: 'x'.repeat(4096) }) });
    expect(res.status).toBe(413);
  });

  it('answers every error in the one public shape, whoever raised it, and 405 with Allow for a method a path does not take', async () => {
    const shaped = async (res: Response) => ({ status: res.status, body: (await res.json()) as Record<string, unknown> });
    const cases: [string, Promise<Response>, number, string][] = [
      ['no token', fetch(`${gateway.url}/v1/orders`), 401, 'unauthorized'],
      ['role not allowed', call('shape_403', '/v1/finance/reconciliation'), 403, 'forbidden'],
      ['unknown route', call('shape_404', '/v1/nothing-here'), 404, 'not_found'],
      ['invalid body', call('shape_400', '/v1/checkout', { method: 'POST', body: JSON.stringify({ lines: 'x' }) }), 400, 'invalid_request'],
      ['body too large', call('shape_413', '/v1/checkout', { method: 'POST', body: JSON.stringify({ pad: 'x'.repeat(4096) }) }), 413, 'payload_too_large'],
      ['upstream too slow', call('slow', '/v1/me/loyalty'), 504, 'gateway_timeout'],
      ['refused by a service', call('refused', '/v1/me/customer', { method: 'POST' }), 422, 'stripe_rejected'],
      ['invalid for a service', call('invalid', '/v1/me/customer', { method: 'POST' }), 400, 'invalid_request'],
      ['method not allowed', call('shape_405', '/v1/checkout', { method: 'DELETE' }), 405, 'method_not_allowed'],
    ];
    let deep = '"x"';
    for (let i = 0; i < 300; i++) deep = `{"a":${deep}}`; // under this gateway's 2kb BODY_LIMIT, deeper than any body
    cases.push(['nested too deep', call('shape_deep', '/v1/me/ephemeral-keys', { method: 'POST', body: deep }), 400, 'invalid_request']);
    cases.push(['NUL in a field', call('shape_nul', '/v1/me/ephemeral-keys', { method: 'POST', body: JSON.stringify({ apiVersion: '2024-06-20\u0000' }) }), 400, 'invalid_request']);
    for (const [what, pending, status, code] of cases) {
      const { status: got, body } = await shaped(await pending);
      expect([what, got, body.statusCode, body.error, typeof body.message]).toEqual([what, status, status, code, 'string']);
    }
    const refused = await shaped(await call('refused', '/v1/me/customer', { method: 'POST' }));
    expect(refused.body.details).toEqual({ param: 'customer' });
    const invalid = await shaped(await call('invalid', '/v1/me/customer', { method: 'POST' }));
    expect(invalid.body.issues).toEqual([{ path: 'email', message: 'an email' }]);
    const own = await shaped(await call('shape_400b', '/v1/checkout', { method: 'POST', body: JSON.stringify({ lines: 'x' }) }));
    expect(own.body.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'lines' })]));
    const wrongMethod = await call('shape_405b', '/v1/orders/ord_1', { method: 'PUT' });
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
    expect(wrongMethod.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/); // like every other answer
    expect((await call('shape_405c', '/v1/orders/ord_1/cancel', { method: 'GET' })).headers.get('allow')).toBe('POST');
  });

  it('echoes a sane correlation id and replaces one that could inject into logs', async () => {
    const kept = await call('corr', '/v1/orders', { headers: { 'x-correlation-id': 'client-abc-123' } });
    expect(kept.headers.get('x-correlation-id')).toBe('client-abc-123');
    const replaced = await call('corr2', '/v1/orders', { headers: { 'x-correlation-id': 'evil\tvalue{"level":"fatal"}' } });
    expect(replaced.headers.get('x-correlation-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('names the principal of a refused request in its access log line, never the token', async () => {
    const token = mintToken({ sub: 'cus_audit', role: 'customer', iss: issuer, aud: audience }, secret);
    const res = await fetch(`${gateway.url}/v1/finance/reconciliation?day=2026-12-01`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    const correlationId = res.headers.get('x-correlation-id');
    const accessLine = () =>
      gateway.logs
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as { msg?: string; correlationId?: string; status?: number; principal?: unknown }];
          } catch {
            return []; // not a log record
          }
        })
        .find((l) => l.msg === 'http request' && l.correlationId === correlationId);
    // The line is written when the response has finished, and reaches this process through the child's stdout.
    const line = await eventually(async () => accessLine(), (l) => l !== undefined, { what: 'the access log line', timeoutMs: 5000 });
    expect(line).toMatchObject({ status: 403, principal: { sub: 'cus_audit', role: 'customer' } });
    expect(gateway.logs.join('\n')).not.toContain(token);
  });

  it('writes an access log line for a 405 too, with its correlation id, route unmatched', async () => {
    const res = await call('log_405', '/v1/checkout', { method: 'DELETE', headers: { 'x-correlation-id': 'wrong-method-405' } });
    expect(res.status).toBe(405);
    const line = await eventually(
      async () =>
        gateway.logs.find((l) => l.includes('"msg":"http request"') && l.includes('"correlationId":"wrong-method-405"')),
      (l) => l !== undefined,
      { what: 'the access log line of the 405', timeoutMs: 5000 },
    );
    expect(JSON.parse(line!)).toMatchObject({ method: 'DELETE', path: '/v1/checkout', route: 'unmatched', status: 405 });
  });

  it('serves /metrics only with METRICS_TOKEN, in the public error shape otherwise, while health stays open', async () => {
    const refused = await fetch(`${gateway.url}/metrics`);
    expect(refused.status).toBe(401);
    const body = await refused.text();
    expect(body).not.toContain('http_request_duration_seconds');
    expect(JSON.parse(body)).toMatchObject({ statusCode: 401, error: 'unauthorized' });
    expect((await fetch(`${gateway.url}/metrics`, { headers: { authorization: 'Bearer another-token-of-enough-length' } })).status).toBe(401);
    const scraped = await fetch(`${gateway.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('http_request_duration_seconds');
    expect((await fetch(`${gateway.url}/health/live`)).status).toBe(200);
  });

  it('never answers without a valid token, and serves the OpenAPI document publicly', async () => {
    expect((await fetch(`${gateway.url}/v1/orders`)).status).toBe(401);
    // Signed with the right key but for another issuer or audience (another system sharing the key): refused.
    for (const [claims, reason] of [
      [{}, 'token issuer not accepted'],
      [{ iss: issuer, aud: 'another-api' }, 'token not issued for this audience'],
    ] as const) {
      const res = await fetch(`${gateway.url}/v1/orders`, {
        headers: { authorization: `Bearer ${mintToken({ sub: 'cus_x', role: 'customer', ...claims }, secret)}` },
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { message: string }).message).toBe(reason);
    }
    // During a key rotation: the previous key still signs valid tokens, any other key does not.
    const withKey = (key: string) =>
      fetch(`${gateway.url}/v1/me/loyalty`, {
        headers: { authorization: `Bearer ${mintToken({ sub: 'cus_rotation', role: 'customer', iss: issuer, aud: audience }, key)}` },
      });
    expect((await withKey(previousSecret)).status).not.toBe(401);
    const unknown = await withKey('some-other-key-of-enough-length');
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { message: string }).message).toBe('bad signature');
    const spec = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(spec.openapi).toBe('3.0.3');
    expect(Object.keys(spec.paths)).toContain('/v1/checkout');
  });

  it('answers 429 to an address past its unauthenticated requests per minute, and counts calls a role may not make', async () => {
    await awayFromMinuteEdge();
    // The test runs on loopback, which the gateway trusts for X-Forwarded-For (TRUST_PROXY): each case its own address.
    const from = (ip: string, headers: Record<string, string> = {}) =>
      fetch(`${gateway.url}/v1/orders`, { headers: { 'x-forwarded-for': ip, ...headers } });
    const forged = { authorization: `Bearer ${mintToken({ sub: 'cus_guess', role: 'customer', iss: issuer, aud: audience }, 'a-guessed-key-of-enough-length')}` };
    const statuses: number[] = [];
    for (let i = 0; i < UNAUTHENTICATED_LIMIT + 2; i++) statuses.push((await from('203.0.113.7', i % 2 ? forged : {})).status);
    expect(statuses).toEqual([...Array<number>(UNAUTHENTICATED_LIMIT).fill(401), 429, 429]);
    const limited = await from('203.0.113.7');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await limited.json()) as { error: string }).error).toBe('rate_limited');
    // Another address, a token we signed that has expired (a real client that must sign in again), and a valid token
    // from the limited address are not held back by it; another address of the same IPv6 /64 is.
    expect((await from('203.0.113.8')).status).toBe(401);
    const expired = mintToken({ sub: 'cus_late', role: 'customer', iss: issuer, aud: audience }, secret, Math.floor(Date.now() / 1000) - 7200);
    const late = await from('203.0.113.7', { authorization: `Bearer ${expired}` });
    expect([late.status, ((await late.json()) as { message: string }).message]).toEqual([401, 'token expired']);
    for (let i = 0; i < UNAUTHENTICATED_LIMIT; i++) expect((await from(`2001:db8:7:7::${i + 1}`)).status).toBe(401);
    expect((await from('2001:db8:7:7:ffff::1')).status).toBe(429);
    expect((await from('2001:db8:7:8::1')).status).toBe(401);
    expect((await call('fresh_client', '/v1/orders', { headers: { 'x-forwarded-for': '203.0.113.7' } })).status).toBe(200);
    // A valid user calling a route of another role: 403, counted against that user's limit like any call.
    const refused: number[] = [];
    for (let i = 0; i < 7; i++) refused.push((await call('nosy_customer', '/v1/finance/reconciliation')).status);
    expect(refused).toEqual([403, 403, 403, 403, 403, 429, 429]);
  });
});
