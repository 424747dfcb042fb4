import { TestDatabase, engines, eventually, testKafka } from '@omnipay/testing';
import type { ServiceProcess } from '@omnipay/testing';
import { committedOffsets, isolatedRun, metricValue, pointMessage, startLedger } from './ledger-fixture';

const TOTAL = 20000;

describe('idempotent inbox', () => {
  const world = isolatedRun('inbox_kill');
  const db = new TestDatabase(engines().databaseUrl);
  const kafka = testKafka(engines().kafkaBrokers);
  let ledger: ServiceProcess | undefined;

  afterAll(async () => {
    await ledger?.stop();
    await db.dropSchema(world.schema);
    await db.close();
  });

  const effects = () => db.scalar<number>(`SELECT count(*) FROM ${world.schema}.fixture_effects`);

  async function produceBacklog(): Promise<void> {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: world.topic, numPartitions: 6 }] });
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    for (let start = 0; start < TOTAL; start += 2000) {
      const messages = Array.from({ length: 2000 }, (_, i) => pointMessage(`cust-${(start + i) % 97}`, start + i));
      await producer.send({ topic: world.topic, acks: -1, messages });
    }
    await producer.disconnect();
  }

  it('applies every message exactly once when the consumer is SIGKILLed mid-batch, though some were redelivered', async () => {
    await produceBacklog();
    ledger = await startLedger(world);

    // Kill while messages are being applied. Offsets are committed every 500 ms, so messages applied since the
    // last offset commit are redelivered after the restart: the inbox must recognise every one of them.
    let redelivered = 0;
    let duplicatesSeen = 0;
    for (let attempt = 0; attempt < 4 && redelivered === 0; attempt++) {
      const before = await effects();
      await eventually(effects, (n) => n >= before + 1000 || n >= TOTAL - 1000, { intervalMs: 20, what: 'progress before the kill' });
      await ledger.kill();
      const applied = await effects();
      redelivered = applied - (await committedOffsets(kafka, world.groupId, world.topic));
      ledger = await startLedger(world);
      if (redelivered > 0) {
        duplicatesSeen = await eventually(
          async () => metricValue((await ledger!.get('/metrics')).text, 'messages_consumed_total', { outcome: 'duplicate' }),
          (n) => n > 0,
          { what: 'the restarted consumer to meet the redelivered duplicates' },
        );
      }
    }
    expect(redelivered).toBeGreaterThan(0);
    expect(duplicatesSeen).toBeGreaterThan(0);

    await eventually(effects, (n) => n >= TOTAL, { timeoutMs: 90000, what: `all ${TOTAL} effects` });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await effects()).toBe(TOTAL);
    expect(await db.scalar(`SELECT count(DISTINCT message_id) FROM ${world.schema}.fixture_effects`)).toBe(TOTAL);
    expect(await db.scalar(`SELECT sum(balance) FROM ${world.schema}.fixture_balances`)).toBe(TOTAL);
    expect(await db.scalar(`SELECT count(*) FROM ${world.schema}.inbox WHERE outcome = 'applied'`)).toBe(TOTAL);
  });
});
