import { JsonLogger, createLogger } from '@omnipay/observability';
import { MessagingTables1700000000000, dataSourceOptions, ensureSchema, runMigrations } from '@omnipay/persistence';
import { TestDatabase, engines, uniqueName } from '@omnipay/testing';
import { DataSource } from 'typeorm';
import type { KafkaPublisher } from '../src/kafka/publisher';
import type { MessagingSettings } from '../src/messaging.settings';
import { OutboxRelay } from '../src/outbox/outbox-relay.service';
import { OutboxService } from '../src/outbox/outbox.service';

/**
 * Several replicas of a service each run a relay on the same outbox (real PostgreSQL). Kafka keeps a key's order
 * only if its events are sent in order, so two replicas must never have batches in flight at once. The publisher
 * records what reaches "Kafka" after a random delay, as a broker's acknowledgement would come.
 */
describe('outbox relay: replicas sharing one outbox', () => {
  const schema = uniqueName('relay_replicas');
  const db = new TestDatabase(engines().databaseUrl);
  const sources: DataSource[] = [];

  async function replica(): Promise<DataSource> {
    const ds = new DataSource(
      dataSourceOptions({ url: engines().databaseUrl, schema, poolSize: 2, entities: [], migrations: [MessagingTables1700000000000] }),
    );
    await ds.initialize();
    sources.push(ds);
    return ds;
  }

  beforeAll(async () => {
    await ensureSchema(engines().databaseUrl, schema);
    await runMigrations(await replica(), schema);
  });
  afterAll(async () => {
    for (const ds of sources) await ds.destroy();
    await db.dropSchema(schema);
    await db.close();
  });

  it("sends every key's events in the order they were written when three replicas publish at once", async () => {
    const keys = 40;
    const perKey = 150;
    // Written key by key in turn, so every batch of 500 holds events of every key.
    await db.query(
      `INSERT INTO ${schema}.outbox (id, topic, key, payload, headers)
       SELECT gen_random_uuid(), 't', 'k' || (i % ${keys}), json_build_object('n', i / ${keys})::text, '{}'
         FROM generate_series(0, ${keys * perKey - 1}) AS i ORDER BY i`,
    );
    const received = new Map<string, number[]>();
    const publisher = {
      send: async (messages: { key: string; value: string }[]) => {
        await new Promise((r) => setTimeout(r, Math.random() * 30));
        for (const m of messages) {
          const list = received.get(m.key) ?? [];
          list.push((JSON.parse(m.value) as { n: number }).n);
          received.set(m.key, list);
        }
      },
    } as unknown as KafkaPublisher;
    const settings = { service: 'relay-test', relayEnabled: false } as MessagingSettings;
    const logger = new JsonLogger(createLogger('relay-test', 'silent'));
    const relays = await Promise.all(
      [0, 1, 2].map(async () => new OutboxRelay(await replica(), publisher, new OutboxService(settings), logger, settings)),
    );
    const published = [0, 0, 0];
    await Promise.all(
      relays.map(async (relay, i) => {
        // Each replica keeps passing until nothing is left, as its loop does while woken by commits.
        while ((await db.scalar<number>(`SELECT count(*) FROM ${schema}.outbox WHERE published_at IS NULL`)) > 0) {
          published[i] += await relay.publishBatch();
        }
      }),
    );

    expect([...received.values()].reduce((n, l) => n + l.length, 0)).toBe(keys * perKey);
    const inOrder = Array.from({ length: perKey }, (_, n) => n);
    for (const [key, ns] of received) expect({ key, ns }).toEqual({ key, ns: inOrder });
    // Batches went out through more than one replica (else the test proved nothing about replicas).
    expect(published.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  });
});
