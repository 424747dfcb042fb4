/**
 * The baseline of the event-to-state benchmark: a raw kafkajs consumer (no Nest, no inbox, no state machine)
 * that reads `stripe.events.v1`, records each Stripe event id once per batch with one set-based INSERT … RETURNING,
 * and produces one message per fresh event to an output topic. It is the least a consumer hop can cost here.
 * Env: KAFKA_BROKERS, DATABASE_URL, BASELINE_IN (wire topic), BASELINE_OUT (wire topic), BASELINE_GROUP,
 * BASELINE_SCHEMA. Prints "ready" once its group has joined.
 */
import { Kafka, logLevel } from 'kafkajs';
// The kafkajs idle-spin fix the services run with (see the module), so the baselines and observers pay no more than they do.
import { applyKafkajsIdleFix } from '@omnipay/messaging';
import { Pool } from 'pg';

applyKafkajsIdleFix();

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

async function main(): Promise<void> {
  const schema = env('BASELINE_SCHEMA');
  const pool = new Pool({ connectionString: env('DATABASE_URL'), max: 4 });
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await pool.query(
    `CREATE TABLE IF NOT EXISTS "${schema}".events (event_id text PRIMARY KEY, type text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  const kafka = new Kafka({ clientId: 'bench-baseline', brokers: env('KAFKA_BROKERS').split(','), logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: env('BASELINE_GROUP'), maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [env('BASELINE_IN')], fromBeginning: false });
  const out = env('BASELINE_OUT');
  consumer.on(consumer.events.GROUP_JOIN, () => process.stdout.write('ready\n'));
  await consumer.run({
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      const ids: string[] = [];
      const types: string[] = [];
      for (const m of batch.messages) {
        const env = JSON.parse(m.value?.toString() ?? '{}') as { data?: { stripeEventId?: string; stripeType?: string } };
        if (!env.data?.stripeEventId) continue;
        ids.push(env.data.stripeEventId);
        types.push(env.data.stripeType ?? '');
      }
      if (ids.length > 0) {
        const fresh = await pool.query<{ event_id: string }>(
          `INSERT INTO "${schema}".events (event_id, type) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING RETURNING event_id`,
          [ids, types],
        );
        if (fresh.rows.length > 0) {
          await producer.send({
            topic: out,
            acks: -1,
            messages: fresh.rows.map((r) => ({ key: r.event_id, value: JSON.stringify({ stripeEventId: r.event_id }) })),
          });
        }
      }
      resolveOffset(batch.messages[batch.messages.length - 1].offset);
      await heartbeat();
    },
  });
  const stop = async () => {
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
