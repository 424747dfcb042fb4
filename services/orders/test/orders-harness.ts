import { createHash, randomBytes } from 'node:crypto';
import { Headers, type Envelope } from '@omnipay/contracts';
import { ServiceProcess, TestDatabase, engines, freePort, testKafka, uniqueName } from '@omnipay/testing';
import type { Producer } from 'kafkajs';

export const ORDERS_ENTRY = 'services/orders/src/main.ts';

/** One isolated world per suite: own schema, topic prefix and consumer-group prefix on the shared engines. */
export function isolatedWorld(name: string) {
  const run = uniqueName(name);
  return {
    run,
    schema: run,
    topicPrefix: `${run}.`,
    groupPrefix: run,
    paymentsTopic: `${run}.payments.events.v1`,
  };
}
export type World = ReturnType<typeof isolatedWorld>;

export async function startOrders(
  world: World,
  env: Record<string, string> = {},
  port?: number,
  entry = ORDERS_ENTRY,
): Promise<ServiceProcess> {
  const e = engines();
  return new ServiceProcess({
    entry,
    name: `orders(${world.run})`,
    port: port ?? (await freePort()),
    env: {
      DATABASE_URL: e.databaseUrl,
      REDIS_URL: e.redisUrl,
      KAFKA_BROKERS: e.kafkaBrokers,
      DATABASE_SCHEMA: world.schema,
      KAFKA_TOPIC_PREFIX: world.topicPrefix,
      KAFKA_GROUP_PREFIX: world.groupPrefix,
      KAFKA_SESSION_TIMEOUT_MS: '6000',
      OUTBOX_POLL_MS: '100',
      ORDER_PAYMENT_TTL_S: '600',
      ORDER_EXPIRY_SWEEP_MS: '200',
      LOG_LEVEL: 'warn',
      ...env,
    },
  }).start();
}

export interface PlacedOrder {
  id: string;
  status: string;
  total: number;
  currency: string;
  channel: 'app' | 'web' | 'pos';
  storeId: string;
  customerId: string | null;
  stockLocationId: string;
  lines: { sku: string; quantity: number; unitAmount: number }[];
}

/** Publishes payments.events.v1 envelopes as the payments service would (keyed by order id). */
export class PaymentsProducer {
  private producer?: Producer;

  constructor(private readonly world: World) {}

  async connect(): Promise<this> {
    this.producer = testKafka(engines().kafkaBrokers).producer();
    await this.producer.connect();
    return this;
  }

  async send(envelopes: Envelope[]): Promise<void> {
    for (let i = 0; i < envelopes.length; i += 500) {
      await this.producer!.send({
        topic: this.world.paymentsTopic,
        acks: -1,
        messages: envelopes
          .slice(i, i + 500)
          .map((env) => ({
            key: (env.data as { orderId: string }).orderId,
            value: JSON.stringify(env),
            // The headers the payments service's outbox sets: consumer groups pass over kinds they do not read.
            headers: {
              [Headers.traceparent]: traceparentFor(env),
              [Headers.messageType]: env.type,
              [Headers.messageVersion]: String(env.version),
            },
          })),
      });
    }
  }

  async disconnect(): Promise<void> {
    await this.producer?.disconnect();
  }
}

/** A W3C trace context per payment event, its trace id derived from the envelope id (tests follow traces). */
export function traceparentFor(env: Envelope): string {
  const hex = createHash('sha256').update(env.id).digest('hex');
  return `00-${hex.slice(0, 32)}-${hex.slice(32, 48)}-01`;
}

export const newPi = () => `pi_${randomBytes(8).toString('hex')}`;

/** Payment events as the payments service publishes them (one set of builders for unit and integration tests). */
export { pay as events, republished } from '../src/shared/payment-events.fixtures';

export function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Reads of the service's own tables for assertions on final state. */
export class OrdersDb {
  constructor(
    readonly db: TestDatabase,
    private readonly schema: string,
  ) {}

  stock(sku: string, location: string) {
    return this.db
      .query<{
        on_hand: number;
        reserved: number;
      }>(`SELECT on_hand, reserved FROM ${this.schema}.stock WHERE sku = $1 AND location_id = $2`, [
        sku,
        location,
      ])
      .then(([r]) => r);
  }

  status(orderId: string) {
    return this.db.scalar<string>(`SELECT status FROM ${this.schema}.orders WHERE id = $1`, [orderId]);
  }

  ledger(customerId: string) {
    return this.db.query<{ order_id: string; reason: string; points: number }>(
      `SELECT order_id, reason, points FROM ${this.schema}.loyalty_entries WHERE customer_id = $1 ORDER BY id`,
      [customerId],
    );
  }

  /** Ledger sum and the cached account balance, which must always agree. */
  async balances(customerId: string): Promise<{ sum: number; account: number }> {
    const sum = await this.db.scalar<number>(
      `SELECT COALESCE(SUM(points), 0)::int FROM ${this.schema}.loyalty_entries WHERE customer_id = $1`,
      [customerId],
    );
    const account =
      (await this.db.scalar<number>(
        `SELECT balance FROM ${this.schema}.loyalty_accounts WHERE customer_id = $1`,
        [customerId],
      )) ?? 0;
    return { sum, account };
  }
}
