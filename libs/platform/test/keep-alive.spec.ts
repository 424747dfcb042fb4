import http from 'node:http';
import { engines, freePort, isolatedServiceEnv, ServiceProcess, TestDatabase, uniqueName } from '@omnipay/testing';

// Any service built on bootstrapService will do: the ledger fixture is the smallest one.
const LEDGER_ENTRY = 'libs/testing/src/fixtures/ledger/main.ts';

function keepAliveHeader(url: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}/health/live`, { agent: new http.Agent({ keepAlive: true }) }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers['keep-alive'] as string | undefined));
      })
      .on('error', reject);
  });
}

describe('HTTP keep-alive of every service', () => {
  const db = new TestDatabase(engines().databaseUrl);
  const started: { proc: ServiceProcess; schema: string }[] = [];

  async function start(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const run = uniqueName('keepalive');
    const proc = await new ServiceProcess({
      entry: LEDGER_ENTRY,
      name: `ledger(${run})`,
      port: await freePort(),
      env: { ...isolatedServiceEnv(run), ...env },
    }).start();
    started.push({ proc, schema: run });
    return proc;
  }

  afterAll(async () => {
    for (const { proc, schema } of started) {
      await proc.stop();
      await db.dropSchema(schema);
    }
    await db.close();
  });

  it('keeps idle connections 65 s by default, longer than the 60 s idle timeout of common load balancers', async () => {
    const svc = await start();
    expect(await keepAliveHeader(svc.url)).toBe('timeout=65');
  });

  it('takes the idle timeout from HTTP_KEEP_ALIVE_TIMEOUT_MS', async () => {
    const svc = await start({ HTTP_KEEP_ALIVE_TIMEOUT_MS: '120000' });
    expect(await keepAliveHeader(svc.url)).toBe('timeout=120');
  });
});
