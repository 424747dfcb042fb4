import { PointsChanged } from '@omnipay/contracts';
import type { Kafka } from 'kafkajs';
import { createEnvelope } from '../src/outbox/create-envelope';
import { engines, freePort, ServiceProcess, TestDatabase, TopicRecorder, testKafka, uniqueName } from '@omnipay/testing';

export const LEDGER_ENTRY = 'libs/testing/src/fixtures/ledger/main.ts';
export const LEDGER_GROUP = 'ledger';

/**
 * The ledger's n-th message: a point for `customerId`, keyed by the customer as loyalty events are (or by `key`, to
 * put every message on one partition).
 */
export function pointMessage(customerId: string, n: number, key = customerId, balance = 1): { key: string; value: string } {
  const env = createEnvelope(
    PointsChanged,
    { customerId, orderId: `o-${n}`, entryId: String(n), reason: 'accrual', points: 1, balance } as never,
    'test',
  );
  return { key, value: JSON.stringify(env) };
}

/** One isolated world per test: own schema, own topic prefix, own consumer-group prefix. */
export function isolatedRun(name: string) {
  const run = uniqueName(name);
  return {
    run,
    schema: run,
    topicPrefix: `${run}.`,
    groupPrefix: run,
    topic: `${run}.loyalty.events.v1`,
    dlqTopic: `${run}.loyalty.events.v1.dlq`,
    groupId: `${run}.ledger.${LEDGER_GROUP}`,
  };
}

export async function startLedger(
  world: ReturnType<typeof isolatedRun>,
  env: Record<string, string> = {},
  port?: number,
): Promise<ServiceProcess> {
  const e = engines();
  return new ServiceProcess({
    entry: LEDGER_ENTRY,
    name: `ledger(${world.run})`,
    port: port ?? (await freePort()),
    env: {
      DATABASE_URL: e.databaseUrl,
      REDIS_URL: e.redisUrl,
      KAFKA_BROKERS: e.kafkaBrokers,
      DATABASE_SCHEMA: world.schema,
      KAFKA_TOPIC_PREFIX: world.topicPrefix,
      KAFKA_GROUP_PREFIX: world.groupPrefix,
      OUTBOX_POLL_MS: '100',
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      ...env,
    },
  }).start();
}

/**
 * A world for one describe block with a recorder on its topic (or its dead-letter topic), torn down after the
 * block: every ledger `start` started is stopped, the schema dropped.
 */
export function recordedLedgerWorld(name: string, record: 'topic' | 'dlqTopic') {
  const world = isolatedRun(name);
  const db = new TestDatabase(engines().databaseUrl);
  const recorder = new TopicRecorder(testKafka(engines().kafkaBrokers), [world[record]]);
  const started: ServiceProcess[] = [];
  beforeAll(() => recorder.start());
  afterAll(async () => {
    for (const ledger of started) await ledger.stop();
    await recorder.stop();
    await db.dropSchema(world.schema);
    await db.close();
  });
  const start = async (env: Record<string, string> = {}): Promise<ServiceProcess> => {
    const ledger = await startLedger(world, env);
    started.push(ledger);
    return ledger;
  };
  return { world, db, recorder, start };
}

/** The value of one Prometheus series, 0 when absent (`labels` empty: the series without labels too). */
export function metricValue(metricsText: string, name: string, labels: Record<string, string>): number {
  for (const line of metricsText.split('\n')) {
    if (Object.keys(labels).length === 0 && line.startsWith(`${name} `)) return Number(line.split(' ').pop());
    if (!line.startsWith(`${name}{`)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return 0;
}

/** The sum of a group's committed offsets on one topic (what a restart would resume from). */
export async function committedOffsets(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return t.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}
