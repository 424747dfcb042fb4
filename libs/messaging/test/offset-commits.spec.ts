import { TestDatabase, engines, eventually, testKafka, type ServiceProcess } from '@omnipay/testing';
import { committedOffsets, isolatedRun, metricValue, pointMessage, startLedger } from './ledger-fixture';

const MESSAGES = 60;

/**
 * A group that receives messages one at a time (light load) must not send an offset commit per message: kafkajs's
 * own autoCommit does, whatever its interval. Commits are throttled to one per interval, and the last offsets of a
 * burst are still committed once the group is idle, so its lag reads zero.
 */
describe('offset commits', () => {
  const world = isolatedRun('offset_commits');
  const db = new TestDatabase(engines().databaseUrl);
  const kafka = testKafka(engines().kafkaBrokers);
  let ledger: ServiceProcess | undefined;

  afterAll(async () => {
    await ledger?.stop();
    await db.dropSchema(world.schema);
    await db.close();
  });

  it('commits far fewer times than it receives messages one by one, and commits the last ones once idle', async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: world.topic, numPartitions: 1 }] });
    await admin.disconnect();
    ledger = await startLedger(world);
    const effects = () => db.scalar<number>(`SELECT count(*) FROM ${world.schema}.fixture_effects`);

    const producer = kafka.producer();
    await producer.connect();
    try {
      for (let i = 0; i < MESSAGES; i++) {
        await producer.send({ topic: world.topic, acks: -1, messages: [pointMessage('cust-1', i, 'cust-1', i + 1)] });
        // Each message applied before the next is sent: every one is a batch of its own.
        await eventually(effects, (n) => n >= i + 1, { intervalMs: 5, what: `message ${i} applied` });
      }
    } finally {
      await producer.disconnect();
    }

    // Idle now: the last offsets are committed without another message arriving.
    await eventually(() => committedOffsets(kafka, world.groupId, world.topic), (n) => n === MESSAGES, { timeoutMs: 10000, what: 'every offset committed' });
    const metrics = (await ledger.get('/metrics')).text;
    const commits = metricValue(metrics, 'kafka_offset_commits_total', { group: world.groupId });
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThan(MESSAGES / 2);
    // The broker's view of it: nothing left to read.
    expect(metrics).toContain(`kafka_consumer_lag_messages{group="${world.groupId}",topic="loyalty.events.v1",partition="0"} 0\n`);
  });
});
