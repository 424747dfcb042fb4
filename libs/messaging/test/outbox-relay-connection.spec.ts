import { randomUUID } from 'node:crypto';
import { JsonLogger, createLogger } from '@omnipay/observability';
import { MessagingTables1700000000000, dataSourceOptions, ensureSchema, runMigrations } from '@omnipay/persistence';
import { TestDatabase, engines, eventually, uniqueName } from '@omnipay/testing';
import { DataSource, type DataSourceOptions } from 'typeorm';
import type { KafkaPublisher } from '../src/kafka/publisher';
import type { MessagingSettings } from '../src/messaging.settings';
import { OutboxRelay } from '../src/outbox/outbox-relay.service';
import { OutboxService } from '../src/outbox/outbox.service';

/**
 * The relay holds a pooled PostgreSQL connection, in a transaction, while Kafka acknowledges a batch. This suite
 * kills that connection mid-send (a database restart, a failover, an idle-in-transaction timeout) on the real
 * PostgreSQL. The publisher is a gate the test opens: what is checked is the connection handling, not Kafka.
 */
describe('outbox relay: its database connection dies while a batch is being sent', () => {
  const schema = uniqueName('relay_conn');
  const db = new TestDatabase(engines().databaseUrl);
  let ds: DataSource;

  beforeAll(async () => {
    await ensureSchema(engines().databaseUrl, schema);
    ds = new DataSource({
      ...dataSourceOptions({ url: engines().databaseUrl, schema, poolSize: 2, entities: [], migrations: [MessagingTables1700000000000] }),
      // Tells this suite's connections apart from other suites' relays in pg_stat_activity.
      applicationName: schema,
    } as DataSourceOptions);
    await ds.initialize();
    await runMigrations(ds, schema);
  });
  afterAll(async () => {
    await ds?.destroy();
    await db.dropSchema(schema);
    await db.close();
  });

  it('fails that pass without taking the process down, and the next pass publishes the rows once more', async () => {
    const sent: string[][] = [];
    let gate: (() => void) | undefined;
    const publisher = {
      send: async (messages: { key: string }[]) => {
        if (!gate) await new Promise<void>((open) => (gate = open));
        sent.push(messages.map((m) => m.key));
      },
    } as unknown as KafkaPublisher;
    const settings = { service: 'relay-test', relayEnabled: false } as MessagingSettings;
    const relay = new OutboxRelay(ds, publisher, new OutboxService(settings), new JsonLogger(createLogger('relay-test', 'silent')), settings);
    const id = randomUUID();
    await db.query(`INSERT INTO ${schema}.outbox (id, topic, key, payload, headers) VALUES ($1, 't', 'k1', '{}', '{}')`, [id]);

    const pass = relay.publishBatch();
    // The relay's backend sits idle in its transaction while the send waits: kill it there.
    const backend = await eventually(
      () =>
        db.scalar<number>(
          `SELECT pid FROM pg_stat_activity
            WHERE application_name = $1 AND state = 'idle in transaction' AND query LIKE '%UPDATE outbox SET published_at%'`,
          [schema],
        ),
      (pid) => Boolean(pid),
      { what: 'the relay in its transaction' },
    );
    await db.query('SELECT pg_terminate_backend($1)', [backend]);
    await new Promise((r) => setTimeout(r, 300)); // the dead socket's 'error' reaches the client first
    gate?.();
    await expect(pass).rejects.toThrow();
    // The mark rolled back with the connection: the row waits, and the next pass (a new connection) sends it again.
    expect(await db.scalar<number>(`SELECT count(*) FROM ${schema}.outbox WHERE published_at IS NULL`)).toBe(1);
    expect(await relay.publishBatch()).toBe(1);
    expect(sent).toEqual([['k1'], ['k1']]);
    expect(await db.scalar<number>(`SELECT count(*) FROM ${schema}.outbox WHERE published_at IS NULL`)).toBe(0);
  });
});
