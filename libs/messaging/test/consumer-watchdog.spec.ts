import { TestDatabase, engines, eventually, testKafka, type ServiceProcess } from '@omnipay/testing';
import { isolatedRun, metricValue, pointMessage, startLedger } from './ledger-fixture';

/**
 * The consumer watchdog (reliability catalogue F-KF-07, decision 0023) on a real broker: a handler that never
 * returns holds its chunk, and kafkajs fetches nothing more for the group, with no error anywhere. The watchdog
 * declares the group stuck and `/health/live` fails, which is what makes an orchestrator replace the process; the
 * replacement applies everything once.
 */
/** One ledger world on a one-partition topic, torn down after its block. */
function oneLedger(name: string) {
  const world = isolatedRun(name);
  const db = new TestDatabase(engines().databaseUrl);
  const kafka = testKafka(engines().kafkaBrokers);
  const t = { world, db, kafka, ledger: undefined as ServiceProcess | undefined };

  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: world.topic, numPartitions: 1 }] });
    await admin.disconnect();
  });
  afterAll(async () => {
    await t.ledger?.kill();
    await db.dropSchema(world.schema);
    await db.close();
  });

  const effects = () => db.scalar<number>(`SELECT count(*) FROM ${world.schema}.fixture_effects`);

  async function send(customerIds: string[], first: number): Promise<void> {
    const producer = kafka.producer();
    await producer.connect();
    const messages = customerIds.map((customerId, i) => pointMessage(customerId, first + i, 'one-partition'));
    await producer.send({ topic: world.topic, acks: -1, messages });
    await producer.disconnect();
  }
  return { t, effects, send };
}

describe('a consumer group whose handler never returns', () => {
  const { t, effects, send } = oneLedger('watchdog');
  const { world, db } = t;

  it('fails liveness naming the group, and a replacement process applies every message once', async () => {
    let ledger = (t.ledger = await startLedger(world, { KAFKA_CONSUMER_WATCHDOG_MS: '3000' }));

    await send(['cust-1', 'cust-2', 'cust-3'], 0);
    await eventually(effects, (n) => n === 3, { what: 'the first messages applied' });
    expect((await ledger.get('/health/live')).status).toBe(200);

    await send(['cust-4', 'hang-1', 'cust-5', 'cust-6'], 3);
    const live = await eventually(
      () => ledger.get<{ status: string; consumerGroups: Record<string, string> }>('/health/live'),
      (r) => r.status === 503,
      { timeoutMs: 20000, what: '/health/live to fail' },
    );
    expect(live.body).toEqual({ status: 'stuck', consumerGroups: { [world.groupId]: expect.stringMatching(/^a chunk of messages has made no progress for \d+ s$/) } });
    const ready = await ledger.get<{ consumerGroups: Record<string, { state: string }> }>('/health/ready');
    expect(ready.status).toBe(200); // the HTTP API still serves: only a new process helps the group
    expect(ready.body.consumerGroups[world.groupId].state).toBe('stuck');
    const metrics = (await ledger.get('/metrics')).text;
    expect(metricValue(metrics, 'kafka_consumer_watchdog_actions_total', { group: world.groupId, action: 'stuck' })).toBe(1);
    expect(metricValue(metrics, 'kafka_consumer_watchdog_actions_total', { group: world.groupId, action: 'restarted' })).toBe(0);
    expect(await effects()).toBe(3); // the hung chunk's transaction holds its work back

    // What the orchestrator does about a failed liveness probe; the handler's fix ships with the new process.
    await ledger.kill();
    ledger = t.ledger = await startLedger(world, { KAFKA_CONSUMER_WATCHDOG_MS: '3000', FIXTURE_HANG_FIXED: 'true' });
    await eventually(effects, (n) => n >= 7, { what: 'every message applied by the replacement' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(await effects()).toBe(7);
    expect(await db.scalar(`SELECT count(DISTINCT message_id) FROM ${world.schema}.fixture_effects`)).toBe(7);
    expect((await ledger.get('/health/live')).status).toBe(200);
  });
});

describe('a consumer group retrying failing messages one by one', () => {
  const { t, effects, send } = oneLedger('watchdog_busy');

  it('is not taken for a hang while its chunk takes far longer than the limit', async () => {
    // Five poison messages, each tried 5 times with 0.2 → 1.6 s between attempts: a chunk of ~15 s, limit 3 s.
    const ledger = (t.ledger = await startLedger(t.world, {
      KAFKA_CONSUMER_WATCHDOG_MS: '3000',
      CONSUMER_MAX_ATTEMPTS: '5',
      CONSUMER_RETRY_BACKOFF_MS: '200',
    }));
    const started = Date.now();
    await send(['cust-1', 'poison-1', 'poison-2', 'cust-2', 'poison-3', 'poison-4', 'poison-5', 'cust-3'], 0);
    const lives: number[] = [];
    await eventually(
      async () => {
        lives.push((await ledger.get('/health/live')).status);
        return effects();
      },
      (n) => n === 3,
      { timeoutMs: 60000, intervalMs: 500, what: 'the good messages applied behind the poison ones' },
    );
    expect(Date.now() - started).toBeGreaterThan(10000);
    expect(new Set(lives)).toEqual(new Set([200]));
    const metrics = (await ledger.get('/metrics')).text;
    expect(metricValue(metrics, 'messages_consumed_total', { group: t.world.groupId, outcome: 'dead_lettered' })).toBe(5);
    expect(metricValue(metrics, 'kafka_consumer_watchdog_actions_total', { group: t.world.groupId, action: 'stuck' })).toBe(0);
    expect(metricValue(metrics, 'kafka_consumer_watchdog_actions_total', { group: t.world.groupId, action: 'restarted' })).toBe(0);
  });
});
