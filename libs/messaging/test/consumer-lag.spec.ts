import { engines, testKafka, uniqueName } from '@omnipay/testing';
import { consumerLag } from '../src/consumer/consumer-lag';

/** Lag as the broker sees it (real Kafka): end offsets against each group's committed offsets. */
describe('consumer lag', () => {
  const kafka = testKafka(engines().kafkaBrokers);
  const admin = kafka.admin();
  const topic = `${uniqueName('lag')}.loyalty.events.v1`;

  beforeAll(async () => {
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });
    const producer = kafka.producer();
    await producer.connect();
    const messages = (partition: number, n: number) => Array.from({ length: n }, (_, i) => ({ partition, value: `m${i}` }));
    await producer.send({ topic, acks: -1, messages: [...messages(0, 10), ...messages(1, 3)] });
    await producer.disconnect();
  });
  afterAll(async () => {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it("counts each partition's messages after the group's committed offset, and all of them for a group that committed none", async () => {
    const behind = `${topic}.behind`;
    const fresh = `${topic}.fresh`;
    await admin.setOffsets({ groupId: behind, topic, partitions: [{ partition: 0, offset: '4' }, { partition: 1, offset: '3' }] });
    const lags = await consumerLag(admin, [
      { groupId: behind, topics: [topic] },
      { groupId: fresh, topics: [topic] },
    ]);
    const byKey = Object.fromEntries(lags.map((l) => [`${l.groupId === behind ? 'behind' : 'fresh'}:${l.partition}`, l.lag]));
    expect(byKey).toEqual({ 'behind:0': 6, 'behind:1': 0, 'fresh:0': 10, 'fresh:1': 3 });
  });
});
