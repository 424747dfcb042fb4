import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  PaymentCreated,
  PaymentDisputed,
  PaymentFailed,
  PaymentRefunded,
  PaymentSucceeded,
  type DataOf,
  type Envelope,
  type MessageDefinition,
} from '@omnipay/contracts';
import { createEnvelope } from '@omnipay/messaging';
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
            headers: { traceparent: traceparentFor(env) },
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

const ref = (o: PlacedOrder, pi: string) => ({
  paymentId: `pay_${pi.slice(3)}`,
  orderId: o.id,
  paymentIntentId: pi,
  channel: o.channel,
  storeId: o.storeId,
  customerId: o.customerId,
});

export const newPi = () => `pi_${randomBytes(8).toString('hex')}`;

function env<D extends MessageDefinition>(def: D, data: unknown): Envelope {
  return createEnvelope(def, data as DataOf<D>, 'payments');
}

export const events = {
  created: (o: PlacedOrder, pi: string) =>
    env(PaymentCreated, { ...ref(o, pi), amount: o.total, currency: o.currency, captureMethod: 'automatic' }),
  succeeded: (o: PlacedOrder, pi: string, over: { amount?: number; currency?: string } = {}) =>
    env(PaymentSucceeded, {
      ...ref(o, pi),
      amount: over.amount ?? o.total,
      amountReceived: over.amount ?? o.total,
      currency: over.currency ?? o.currency,
      chargeId: `ch_${pi.slice(3)}`,
    }),
  failed: (o: PlacedOrder, pi: string) =>
    env(PaymentFailed, {
      ...ref(o, pi),
      code: 'card_declined',
      declineCode: 'generic_decline',
      message: 'Your card was declined.',
    }),
  refunded: (
    o: PlacedOrder,
    pi: string,
    r: {
      refundId: string;
      amount: number;
      totalRefunded: number;
      returnedItems?: { sku: string; quantity: number }[];
      returnStoreId?: string;
    },
  ) =>
    env(PaymentRefunded, {
      ...ref(o, pi),
      refundId: r.refundId,
      amount: r.amount,
      totalRefunded: r.totalRefunded,
      amountCaptured: o.total,
      currency: o.currency,
      fullyRefunded: r.totalRefunded >= o.total,
      reason: 'requested_by_customer',
      returnedItems: r.returnedItems ?? [],
      returnStoreId: r.returnStoreId ?? null,
    }),
  disputed: (o: PlacedOrder, pi: string, amount: number) =>
    env(PaymentDisputed, {
      ...ref(o, pi),
      disputeId: `dp_${pi.slice(3)}`,
      amount,
      currency: o.currency,
      reason: 'fraudulent',
    }),
};

export function shuffle<T>(items: T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** The same fact published again under a fresh message id (a retried producer, a replayed Stripe event). */
export const republished = (e: Envelope): Envelope => ({ ...e, id: randomUUID() });

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
