import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mintToken, type Role } from '@omnipay/auth';
import { TestDatabase, engines, startStack, type Stack } from '@omnipay/testing';

const ROOT = path.resolve(__dirname, '../../..');

/**
 * The public API against its own OpenAPI document, with schemathesis (PyPI): for every operation, examples, the
 * edges of each schema and random data, valid and not, under the token of each role. It fails on any 5xx, a
 * status or a body the document does not declare (every error in the one `Error` shape), a schema-invalid request
 * accepted, a request without a token accepted, and a method the path does not take answered otherwise than 405.
 * Not checked: that schema-valid data is always accepted (an unknown SKU or store is valid JSON and a 4xx here).
 */
describe('the gateway API under a schema fuzzer', () => {
  let stack: Stack;
  let st: string;
  // schemathesis writes its cache and reports under its working directory: not into the checkout.
  const workDir = mkdtempSync(path.join(tmpdir(), 'omnipay-fuzz-'));
  const db = new TestDatabase(engines().databaseUrl);
  const STORE = 'store_fuzz';

  beforeAll(async () => {
    st = execFileSync('bash', [path.join(ROOT, 'tools/scripts/schemathesis.sh')], { encoding: 'utf8', timeout: 300_000 }).trim();
    stack = await startStack({
      isolated: true,
      services: ['payments', 'orders', 'terminal', 'gateway'],
      env: { gateway: { RATE_LIMIT_PER_MINUTE: '1000000', RATE_LIMIT_UNAUTHENTICATED_PER_MINUTE: '1000000', UPSTREAM_TIMEOUT_MS: '30000' } },
    });
    // A store for the store staff's tokens, so their routes reach more than "no such store".
    const res = await fetch(`${stack.urls.gateway}/v1/admin/stores`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token('fuzz_admin', 'admin')}` },
      body: JSON.stringify({ id: STORE, displayName: 'Fuzz', address: { line1: '1 Main St', city: 'Berlin', postalCode: '10115', country: 'DE' } }),
    });
    expect(res.status).toBe(201);
  }, 420_000);

  afterAll(async () => {
    await stack?.stop();
    for (const s of ['payments', 'orders', 'terminal', 'gateway'] as const) if (stack) await db.dropSchema(stack.schema(s));
    await db.close();
    rmSync(workDir, { recursive: true, force: true });
  }, 60_000);

  function token(sub: string, role: Role, extra: { storeId?: string; channel?: 'app' | 'web' } = {}): string {
    return mintToken({ sub, role, ...extra }, stack.secrets.jwt);
  }

  function fuzz(bearer: string): Promise<{ code: number; output: string }> {
    const args = [
      'run',
      `${stack.urls.gateway}/openapi.json`,
      '--header',
      `Authorization: Bearer ${bearer}`,
      '--checks',
      'all',
      '--exclude-checks',
      'positive_data_acceptance',
      '--phases',
      'examples,coverage,fuzzing',
      '--max-examples',
      '15',
      // One worker: the same requests in the same order for a given seed.
      '--workers',
      '1',
      '--seed',
      '20261203',
      '--warnings',
      'off',
      '--no-color',
    ];
    return new Promise((resolve) => {
      execFile(st, args, { cwd: workDir, timeout: 300_000, maxBuffer: 20 * 1024 * 1024, env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false' } }, (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, output: `${stdout}\n${stderr}` }),
      );
    });
  }

  const roles: [string, () => string][] = [
    ['customer', () => token('fuzz_customer', 'customer', { channel: 'app' })],
    ['cashier', () => token('fuzz_cashier', 'cashier', { storeId: STORE })],
    ['manager', () => token('fuzz_manager', 'manager', { storeId: STORE })],
    ['finance', () => token('fuzz_finance', 'finance')],
    ['admin', () => token('fuzz_admin', 'admin')],
  ];

  it.each(roles)('finds nothing wrong in any operation with a %s token', async (_role, bearer) => {
    const { code, output } = await fuzz(bearer());
    // On failure the report names each operation, the check, the response and a curl to reproduce it.
    if (code !== 0) throw new Error(output.slice(output.indexOf('FAILURES') >= 0 ? output.indexOf('FAILURES') : -8000));
    expect(output).toMatch(/\d+ generated, \d+ passed/);
  }, 300_000);
});
