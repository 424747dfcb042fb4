import { randomUUID } from 'node:crypto';
import type { BaseConfig } from '@omnipay/config';
import { JsonLogger, createLogger } from '@omnipay/observability';
import {
  MessagingRetention1700000000010,
  MessagingTables1700000000000,
  dataSourceOptions,
  ensureSchema,
  inboxRetention,
  olderThan,
  outboxRetention,
  runMigrations,
} from '@omnipay/persistence';
import { TestDatabase, engines, uniqueName } from '@omnipay/testing';
import { DataSource } from 'typeorm';
import { RetentionSweeper } from '../src/retention.sweeper';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The retention sweeper on real PostgreSQL: what it deletes, what it must never delete, and in batches. */
describe('retention sweeper', () => {
  const schema = uniqueName('retention');
  const db = new TestDatabase(engines().databaseUrl);
  let ds: DataSource;
  const now = new Date();
  const ago = (ms: number) => new Date(now.getTime() - ms);

  beforeAll(async () => {
    await ensureSchema(engines().databaseUrl, schema);
    ds = new DataSource(
      dataSourceOptions({
        url: engines().databaseUrl,
        schema,
        poolSize: 2,
        entities: [],
        migrations: [MessagingTables1700000000000, MessagingRetention1700000000010],
      }),
    );
    await ds.initialize();
    await runMigrations(ds, schema);
    await ds.query(`CREATE TABLE idempotent_requests (key text PRIMARY KEY, created_at timestamptz NOT NULL)`);
    await ds.query(`CREATE INDEX ON idempotent_requests (created_at)`);
  });

  afterAll(async () => {
    await ds?.destroy();
    await db.dropSchema(schema);
    await db.close();
  });

  const sweeper = (rules = [outboxRetention(24 * HOUR), inboxRetention(7 * DAY), olderThan('idempotent_requests', 'created_at', 7 * DAY)]) =>
    new RetentionSweeper(ds, new JsonLogger(createLogger('retention-test', 'silent')), rules, { RETENTION_SWEEP_MS: 0 } as BaseConfig);

  async function outboxRow(name: string, createdAt: Date, publishedAt: Date | null): Promise<void> {
    await ds.query(`INSERT INTO outbox (id, topic, key, payload, created_at, published_at) VALUES ($1, 't', $2, '{}', $3, $4)`, [
      randomUUID(),
      name,
      createdAt,
      publishedAt,
    ]);
  }

  async function inboxRows(prefix: string, n: number, processedAt: Date): Promise<void> {
    await ds.query(
      `INSERT INTO inbox (consumer_group, message_id, topic, message_type, outcome, processed_at)
       SELECT $1, gen_random_uuid(), 't', 'x', 'applied', $2 FROM generate_series(1, $3)`,
      [prefix, processedAt, n],
    );
  }

  it('deletes published outbox rows past their retention and never an unpublished one, however old', async () => {
    await outboxRow('old-published', ago(2 * DAY), ago(2 * DAY));
    await outboxRow('old-unpublished', ago(2 * DAY), null);
    await outboxRow('old-published-2', ago(30 * HOUR), ago(30 * HOUR));
    await outboxRow('new-published', ago(HOUR), ago(HOUR));
    await outboxRow('new-unpublished', ago(HOUR), null);

    expect((await sweeper().sweep(now)).outbox).toBe(2);
    const left = await db.query<{ key: string }>(`SELECT key FROM "${schema}".outbox ORDER BY seq`);
    expect(left.map((r) => r.key)).toEqual(['old-unpublished', 'new-published', 'new-unpublished']);
  });

  it('deletes old inbox records in batches until none is left, and keeps the recent ones', async () => {
    await inboxRows('old', 12_000, ago(8 * DAY));
    await inboxRows('recent', 300, ago(6 * DAY));
    const query = jest.spyOn(ds, 'query');
    expect((await sweeper().sweep(now)).inbox).toBe(12_000);
    const deletes = query.mock.calls.filter(([sql]) => String(sql).startsWith('DELETE FROM inbox'));
    query.mockRestore();
    expect(deletes).toHaveLength(3); // 5,000 + 5,000 + 2,000: short statements, never one for the whole backlog
    const left = await db.query<{ consumer_group: string; n: string }>(
      `SELECT consumer_group, count(*) AS n FROM "${schema}".inbox GROUP BY consumer_group`,
    );
    expect(left).toEqual([{ consumer_group: 'recent', n: '300' }]);
  });

  it("applies a service's own rule, and a retention of 0 keeps everything", async () => {
    await ds.query(`INSERT INTO idempotent_requests (key, created_at) VALUES ('old', $1), ('new', $2)`, [ago(8 * DAY), ago(DAY)]);
    expect(await sweeper([olderThan('idempotent_requests', 'created_at', 0)]).sweep(now)).toEqual({});
    expect(await db.scalar(`SELECT count(*) FROM "${schema}".idempotent_requests`)).toBe(2);
    expect((await sweeper().sweep(now)).idempotent_requests).toBe(1);
    expect(await db.query(`SELECT key FROM "${schema}".idempotent_requests`)).toEqual([{ key: 'new' }]);
  });

  it('has an index to find old inbox records by age, so a sweep does not read the whole table', async () => {
    const indexes = await db.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'inbox'`, [schema]);
    expect(indexes.map((i) => i.indexdef).join('\n')).toMatch(/inbox_processed_at ON .*inbox USING btree \(processed_at\)/);
  });
});
