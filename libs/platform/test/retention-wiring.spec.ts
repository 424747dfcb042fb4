import { randomUUID } from 'node:crypto';
import { engines, eventually, freePort, isolatedServiceEnv, ServiceProcess, TestDatabase, uniqueName } from '@omnipay/testing';

// Any service built on PlatformModule will do: the ledger fixture is the smallest one.
const LEDGER_ENTRY = 'libs/testing/src/fixtures/ledger/main.ts';

describe('retention in a running service', () => {
  const db = new TestDatabase(engines().databaseUrl);
  const run = uniqueName('retention_svc');
  let svc: ServiceProcess | undefined;

  afterAll(async () => {
    await svc?.stop();
    await db.dropSchema(run);
    await db.close();
  });

  it('forgets published outbox rows and inbox records past OUTBOX_RETENTION_HOURS and INBOX_RETENTION_DAYS, on its own', async () => {
    svc = await new ServiceProcess({
      entry: LEDGER_ENTRY,
      name: `ledger(${run})`,
      port: await freePort(),
      env: { ...isolatedServiceEnv(run), RETENTION_SWEEP_MS: '300', OUTBOX_RETENTION_HOURS: '1', INBOX_RETENTION_DAYS: '2' },
    }).start();
    const t = (ms: number) => new Date(Date.now() - ms);
    const outbox = `INSERT INTO "${run}".outbox (id, topic, key, payload, created_at, published_at) VALUES ($1, 'retention.test', $2, '{}', $3, $3)`;
    await db.query(outbox, [randomUUID(), 'two-hours-old', t(2 * 3_600_000)]);
    await db.query(outbox, [randomUUID(), 'a-minute-old', t(60_000)]);
    const inbox = `INSERT INTO "${run}".inbox (consumer_group, message_id, topic, message_type, outcome, processed_at) VALUES ('g', $1, 't', $2, 'applied', $3)`;
    await db.query(inbox, [randomUUID(), 'three-days-old', t(3 * 86_400_000)]);
    await db.query(inbox, [randomUUID(), 'a-day-old', t(86_400_000)]);

    await eventually(
      () => db.scalar(`SELECT count(*) FROM "${run}".outbox WHERE key = 'two-hours-old'`),
      (n) => n === 0,
      { timeoutMs: 15_000, what: 'the old outbox row to be deleted' },
    );
    await eventually(
      () => db.scalar(`SELECT count(*) FROM "${run}".inbox WHERE message_type = 'three-days-old'`),
      (n) => n === 0,
      { timeoutMs: 15_000, what: 'the old inbox record to be deleted' },
    );
    expect(await db.scalar(`SELECT count(*) FROM "${run}".outbox WHERE key = 'a-minute-old'`)).toBe(1);
    expect(await db.scalar(`SELECT count(*) FROM "${run}".inbox WHERE message_type = 'a-day-old'`)).toBe(1);
  });
});
