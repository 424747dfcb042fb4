// How fast does a consumer group drain a backlog through the platform's consumer transport (inbox + one
// transaction per chunk + a handler that writes per message), beside a raw kafkajs consumer doing the same
// effects in set-based SQL per batch with no framework (the baseline)? Both on the same broker and database,
// in the same run.
//   node -r @swc-node/register bench/messaging/backlog-drain.bench.ts [--messages 100000]
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { PointsChanged } from '@omnipay/contracts';
import { createEnvelope } from '@omnipay/messaging';
import { ServiceProcess, TestDatabase, freePort, testKafka, uniqueName } from '@omnipay/testing';
import { arg, cpuSeconds, peakRssMb, printTable } from '../lib';

const ROOT = path.resolve(__dirname, '../..');
const N = arg('messages', 100000);

function loadEngines(): void {
  if (process.env.KAFKA_BROKERS && process.env.DATABASE_URL) return;
  execFileSync('bash', [path.join(ROOT, 'tools/infra/infra.sh'), 'up'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const env = execFileSync('bash', [path.join(ROOT, 'tools/infra/infra.sh'), 'env']).toString();
  for (const line of env.trim().split('\n')) {
    const [k, v] = line.split('=');
    process.env[k] = v;
  }
}

async function produce(topic: string): Promise<void> {
  const kafka = testKafka(process.env.KAFKA_BROKERS as string);
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 6 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  for (let start = 0; start < N; start += 5000) {
    const messages = Array.from({ length: Math.min(5000, N - start) }, (_, i) => {
      const customerId = `cust-${(start + i) % 1000}`;
      const env = createEnvelope(
        PointsChanged,
        { customerId, orderId: `o-${start + i}`, entryId: String(start + i), reason: 'accrual', points: 1, balance: 1 } as never,
        'bench',
      );
      return { key: customerId, value: JSON.stringify(env) };
    });
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
}

async function baseline(db: TestDatabase, topic: string, schema: string): Promise<number> {
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(`CREATE TABLE ${schema}.inbox (message_id uuid PRIMARY KEY)`);
  await db.query(`CREATE TABLE ${schema}.effects (message_id uuid PRIMARY KEY, customer_id text, points int)`);
  await db.query(`CREATE TABLE ${schema}.balances (customer_id text PRIMARY KEY, balance int)`);
  const kafka = testKafka(process.env.KAFKA_BROKERS as string);
  const consumer = kafka.consumer({ groupId: uniqueName('baseline'), maxWaitTimeInMs: 100 });
  const { Pool } = await import('pg');
  const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
  let done = 0;
  const started = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: 3,
      eachBatch: async ({ batch }) => {
        const rows = batch.messages.map((m) => JSON.parse(m.value!.toString()) as { id: string; data: { customerId: string; points: number } });
        const client = await pool.connect();
        try {
          await client.query('BEGIN');
          const fresh = await client.query(
            `INSERT INTO ${schema}.inbox SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING RETURNING message_id`,
            [rows.map((r) => r.id)],
          );
          const ids = new Set(fresh.rows.map((r: { message_id: string }) => r.message_id));
          const applied = rows.filter((r) => ids.has(r.id));
          await client.query(
            `INSERT INTO ${schema}.effects SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[])`,
            [applied.map((r) => r.id), applied.map((r) => r.data.customerId), applied.map((r) => r.data.points)],
          );
          await client.query(
            `INSERT INTO ${schema}.balances SELECT c, sum(p) FROM unnest($1::text[], $2::int[]) AS t(c, p) GROUP BY c
             ON CONFLICT (customer_id) DO UPDATE SET balance = balances.balance + EXCLUDED.balance`,
            [applied.map((r) => r.data.customerId), applied.map((r) => r.data.points)],
          );
          await client.query('COMMIT');
        } finally {
          client.release();
        }
        done += batch.messages.length;
        if (done >= N) resolve();
      },
    });
  });
  const seconds = (Date.now() - started) / 1000;
  await consumer.disconnect();
  await pool.end();
  return seconds;
}

async function platform(db: TestDatabase, run: string, mode: 'message' | 'batch'): Promise<{ seconds: number; cpu: number; rss: number }> {
  const ledger = new ServiceProcess({
    entry: 'libs/testing/src/fixtures/ledger/main.ts',
    port: await freePort(),
    env: {
      DATABASE_URL: process.env.DATABASE_URL as string,
      REDIS_URL: process.env.REDIS_URL as string,
      KAFKA_BROKERS: process.env.KAFKA_BROKERS as string,
      KAFKA_TOPIC_PREFIX: `${run}.`,
      LOG_LEVEL: 'warn',
      FIXTURE_CONSUMER: mode,
      KAFKA_GROUP_PREFIX: `${run}_${mode}`,
      DATABASE_SCHEMA: `${run}_${mode}`,
    },
  });
  await ledger.start();
  // Timed from readiness: process start-up (≈ 2–4 s of module loading and group join) is not drain speed.
  const started = Date.now();
  const cpuAtStart = cpuSeconds(ledger.pid as number);
  for (;;) {
    const n = await db.scalar<number>(`SELECT count(*) FROM ${run}_${mode}.fixture_effects`).catch(() => 0);
    if (n >= N) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (Date.now() - started) / 1000;
  const cpu = cpuSeconds(ledger.pid as number) - cpuAtStart;
  const rss = peakRssMb(ledger.pid as number);
  await ledger.stop();
  return { seconds, cpu, rss };
}

async function main(): Promise<void> {
  loadEngines();
  const db = new TestDatabase(process.env.DATABASE_URL as string);
  const run = uniqueName('bench_drain');
  const topic = `${run}.loyalty.events.v1`;
  console.log(`producing ${N} messages to ${topic} …`);
  await produce(topic);
  const base = await baseline(db, topic, `${run}_baseline`);
  const perMessage = await platform(db, run, 'message');
  const batched = await platform(db, run, 'batch');
  printTable(`Backlog drain of ${N} messages, one consumer group, 6 partitions`, [
    { consumer: 'baseline: raw kafkajs, set-based SQL per batch', seconds: base, 'msgs/s': Math.round(N / base), 'cpu s/1k': '-', 'peak RSS MB': '-' },
    ...(
      [
        ['platform: @OnMessage, inbox, SQL per message', perMessage],
        ['platform: @OnMessages, inbox, set-based SQL per chunk', batched],
      ] as const
    ).map(([consumer, r]) => ({
      consumer,
      seconds: r.seconds,
      'msgs/s': Math.round(N / r.seconds),
      'cpu s/1k': ((r.cpu / N) * 1000).toFixed(3),
      'peak RSS MB': r.rss,
    })),
  ]);
  console.log('(platform rows timed from the service being ready; consumption may begin a moment earlier)');
  await db.dropSchema(`${run}_message`);
  await db.dropSchema(`${run}_batch`);
  await db.dropSchema(`${run}_baseline`);
  await db.close();
}

void main();
