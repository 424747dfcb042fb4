import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Stripe from 'stripe';
import type { Producer } from 'kafkajs';
import { Headers, OrderStatusChanged, StripeEventReceived, type DataOf, type Envelope } from '@omnipay/contracts';
import { DataSource } from 'typeorm';
import {
  MessagingRetention1700000000010,
  MessagingTables1700000000000,
  dataSourceOptions,
  ensureSchema,
  runMigrations,
} from '@omnipay/persistence';
// The emulator is a test tool (type:tool); services' tests start it in-process as the brief asks.
import { startEmulator, type EmulatorHandle } from '@omnipay/stripe-emulator';
import {
  engines,
  freePort,
  ServiceProcess,
  TestDatabase,
  testKafka,
  TopicRecorder,
  uniqueName,
  type RecordedMessage,
} from '@omnipay/testing';
import { paymentsMigrations } from '../src/migrations';

export const WEBHOOK_SECRET = 'whsec_payments_e2e_0123456789abcdef';

/** A DataSource on a fresh schema with the payments service's tables, for suites that drive its classes directly. */
export async function paymentsSchema(schema: string): Promise<DataSource> {
  const url = engines().databaseUrl;
  await ensureSchema(url, schema);
  const ds = new DataSource(
    dataSourceOptions({
      url,
      schema,
      poolSize: 4,
      entities: [],
      migrations: [MessagingTables1700000000000, MessagingRetention1700000000010, ...paymentsMigrations],
    }),
  );
  await ds.initialize();
  await runMigrations(ds, schema);
  return ds;
}
const ROOT = path.resolve(__dirname, '../../..');

/** The fields of a Stripe event the envelope reads (the SDK's `Stripe.Event` or a test's own literal). */
export type StripeEventLike = {
  id: string;
  type: string;
  created: number;
  livemode: boolean;
  api_version?: string | null;
  data: { object: unknown };
};

/**
 * The `stripe.event_received` envelope the webhooks service publishes for a Stripe event. A fresh envelope id
 * every call: a redelivered Stripe event must be caught by payments' own dedup, not only by the inbox.
 */
export function stripeEventEnvelope(
  event: StripeEventLike,
  source = 'test',
): Envelope<DataOf<typeof StripeEventReceived>> {
  const obj = event.data.object as {
    id: string;
    object: string;
    payment_intent?: string | { id: string } | null;
  };
  const paymentIntentId =
    obj.object === 'payment_intent'
      ? obj.id
      : typeof obj.payment_intent === 'string'
        ? obj.payment_intent
        : (obj.payment_intent?.id ?? null);
  return {
    id: randomUUID(),
    type: StripeEventReceived.type,
    version: StripeEventReceived.version,
    occurredAt: new Date().toISOString(),
    source,
    correlationId: `corr-${event.id}-${randomUUID().slice(0, 8)}`,
    causationId: null,
    data: {
      stripeEventId: event.id,
      stripeType: event.type,
      objectId: obj.id,
      paymentIntentId,
      apiVersion: event.api_version ?? null,
      livemode: event.livemode,
      created: event.created,
      receivedAt: new Date().toISOString(),
      event,
    },
  };
}

/** One isolated world: own schema, topic prefix and group prefix, shared engines. */
export function world(name: string) {
  const run = uniqueName(name);
  return { run, schema: run, topicPrefix: `${run}.`, groupPrefix: run };
}
export type World = ReturnType<typeof world>;

/**
 * How Stripe's events reach Kafka: through the real webhooks service when it is there (`services/webhooks`),
 * else through this test's bridge (verifies signatures with `constructEvent` and produces the envelopes the
 * webhooks service would). PAYMENTS_E2E_VIA=bridge|webhooks forces one.
 */
export type Via = 'bridge' | 'webhooks';
export function chosenVia(): Via {
  const forced = process.env.PAYMENTS_E2E_VIA;
  if (forced === 'bridge' || forced === 'webhooks') return forced;
  return existsSync(path.join(ROOT, 'services/webhooks/src/main.ts')) ? 'webhooks' : 'bridge';
}

/** A local Stripe webhook endpoint producing `StripeEventReceived` envelopes; `drop` loses chosen events. */
export class EventBridge {
  private server?: http.Server;
  private producer?: Producer;
  url = '';
  drop: (event: Stripe.Event) => boolean = () => false;
  readonly seen: Stripe.Event[] = [];

  constructor(private readonly w: World) {}

  async start(): Promise<this> {
    const kafka = testKafka(engines().kafkaBrokers);
    const admin = kafka.admin();
    await admin.connect();
    await admin
      .createTopics({
        waitForLeaders: true,
        topics: [{ topic: `${this.w.topicPrefix}stripe.events.v1`, numPartitions: 6 }],
      })
      .catch(() => undefined);
    await admin.disconnect();
    this.producer = kafka.producer({ allowAutoTopicCreation: false });
    await this.producer.connect();
    const webhooks = new Stripe('sk_test_unused', { telemetry: false }).webhooks;
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          let event: Stripe.Event;
          try {
            event = webhooks.constructEvent(
              Buffer.concat(chunks),
              String(req.headers['stripe-signature']),
              WEBHOOK_SECRET,
            );
          } catch {
            res.writeHead(400).end();
            return;
          }
          this.seen.push(event);
          if (this.drop(event)) {
            res.writeHead(200).end();
            return;
          }
          const envelope = stripeEventEnvelope(event, 'test-bridge');
          try {
            await this.producer!.send({
              topic: `${this.w.topicPrefix}stripe.events.v1`,
              messages: [
                {
                  key: envelope.data.paymentIntentId ?? envelope.data.objectId,
                  value: JSON.stringify(envelope),
                },
              ],
            });
            res.writeHead(200).end();
          } catch {
            res.writeHead(500).end();
          }
        })();
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/stripe/webhooks`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await this.producer?.disconnect();
  }
}

export function commonEnv(w: World): Record<string, string> {
  const e = engines();
  return {
    DATABASE_URL: e.databaseUrl,
    REDIS_URL: e.redisUrl,
    KAFKA_BROKERS: e.kafkaBrokers,
    KAFKA_TOPIC_PREFIX: w.topicPrefix,
    KAFKA_GROUP_PREFIX: w.groupPrefix,
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    OUTBOX_POLL_MS: '100',
    NODE_ENV: 'test',
  };
}

export async function startPayments(
  w: World,
  emu: EmulatorHandle,
  port: number,
  extra: Record<string, string> = {},
): Promise<ServiceProcess> {
  return new ServiceProcess({
    entry: 'services/payments/src/main.ts',
    name: `payments(${w.run})`,
    port,
    env: {
      ...commonEnv(w),
      DATABASE_SCHEMA: `${w.schema}_pay`,
      STRIPE_SECRET_KEY: emu.secretKey,
      STRIPE_PUBLISHABLE_KEY: emu.publishableKey,
      STRIPE_API_BASE: emu.url,
      STRIPE_MAX_NETWORK_RETRIES: '3',
      RECONCILIATION_POLL_MS: '100',
      // A worker killed mid-claim gives its claims back after this (the crash test waits for that).
      RECONCILIATION_LEASE_MS: '3000',
      PAYMENTS_JANITOR_INTERVAL_MS: '1000',
      PAYMENTS_JANITOR_MIN_AGE_MS: '4000',
      RETENTION_SWEEP_MS: '500',
      PAYOUTS_RETRY_MS: '200',
      ...extra,
    },
  }).start();
}

export async function startWebhooks(w: World, port: number): Promise<ServiceProcess> {
  return new ServiceProcess({
    entry: 'services/webhooks/src/main.ts',
    name: `webhooks(${w.run})`,
    port,
    env: { ...commonEnv(w), DATABASE_SCHEMA: `${w.schema}_wh`, STRIPE_WEBHOOK_SECRETS: WEBHOOK_SECRET },
  }).start();
}

/** The pieces every end-to-end test uses. */
export interface Stack {
  w: World;
  emu: EmulatorHandle;
  /** secret-key client of the test (plays Stripe's Dashboard) */
  stripe: Stripe;
  /** publishable-key client (plays Stripe.js / the mobile SDK) */
  browser: Stripe;
  via: Via;
  bridge?: EventBridge;
  webhooks?: ServiceProcess;
  payments: ServiceProcess;
  paymentsPort: number;
  recorder: TopicRecorder;
  db: TestDatabase;
  /** every HTTP answer the tests received from our services, for the secret scan */
  responses: { path: string; body: string }[];
}

export async function startStack(name: string): Promise<Stack> {
  const w = world(name);
  const via = chosenVia();
  const emu = await startEmulator({
    port: 0,
    webhookRetry: { initialDelayMs: 50, maxDelayMs: 500, maxDurationMs: 30000, attemptTimeoutMs: 3000 },
  });
  let bridge: EventBridge | undefined;
  let webhooks: ServiceProcess | undefined;
  if (via === 'webhooks') {
    webhooks = await startWebhooks(w, await freePort());
    emu.addWebhookEndpoint({ url: `${webhooks.url}/stripe/webhooks`, secret: WEBHOOK_SECRET });
  } else {
    bridge = await new EventBridge(w).start();
    emu.addWebhookEndpoint({ url: bridge.url, secret: WEBHOOK_SECRET });
  }
  const recorder = await new TopicRecorder(testKafka(engines().kafkaBrokers), [
    `${w.topicPrefix}payments.events.v1`,
    `${w.topicPrefix}finance.reconciliation.v1`,
  ]).start();
  const paymentsPort = await freePort();
  const payments = await startPayments(w, emu, paymentsPort);
  const sdk = (key: string) =>
    new Stripe(key, { ...emu.stripeConfig, maxNetworkRetries: 0, telemetry: false });
  return {
    w,
    emu,
    stripe: sdk(emu.secretKey),
    browser: sdk(emu.publishableKey),
    via,
    bridge,
    webhooks,
    payments,
    paymentsPort,
    recorder,
    db: new TestDatabase(engines().databaseUrl),
    responses: [],
  };
}

export async function stopStack(s: Stack | undefined): Promise<void> {
  if (!s) return;
  await s.payments.stop().catch(() => undefined);
  await s.webhooks?.stop().catch(() => undefined);
  await s.bridge?.stop().catch(() => undefined);
  await s.recorder.stop().catch(() => undefined);
  await s.emu.close().catch(() => undefined);
  await s.db.dropSchema(`${s.w.schema}_pay`).catch(() => undefined);
  await s.db.dropSchema(`${s.w.schema}_wh`).catch(() => undefined);
  await s.db.close().catch(() => undefined);
}

/** Normalised payment events of one order, as recorded on the wire, one per distinct envelope id. */
export function paymentEvents(
  s: Stack,
  orderId: string,
): { id: string; type: string; data: Record<string, unknown> }[] {
  const out = new Map<string, { id: string; type: string; data: Record<string, unknown> }>();
  for (const m of s.recorder.on(`${s.w.topicPrefix}payments.events.v1`)) {
    const env = m.json as { id: string; type: string; data: Record<string, unknown> } | null;
    if (env && m.key === orderId && !out.has(env.id)) out.set(env.id, env);
  }
  return [...out.values()];
}

export function reconciliationEntries(s: Stack, orderId: string): Record<string, unknown>[] {
  const out = new Map<string, Record<string, unknown>>();
  for (const m of s.recorder.on(`${s.w.topicPrefix}finance.reconciliation.v1`)) {
    const env = m.json as { id: string; data: Record<string, unknown> } | null;
    if (env && env.data.orderId === orderId)
      out.set(String(env.data.entryId), { ...env.data, envelopeId: env.id });
  }
  return [...out.values()];
}

export function allWireMessages(s: Stack): RecordedMessage[] {
  return s.recorder.messages;
}

/** POST to payments, keeping the answer for the secret scan. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, asserted field by field
type Json = Record<string, any>;

export async function post<T = Json>(
  s: Stack,
  p: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${s.payments.url}${p}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  s.responses.push({ path: `POST ${p}`, body: text });
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function get<T = Json>(s: Stack, p: string) {
  const res = await fetch(`${s.payments.url}${p}`);
  const text = await res.text();
  s.responses.push({ path: `GET ${p}`, body: text });
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/**
 * Publishes what the orders service publishes when an order is cancelled (`order.status_changed` to `cancelled`),
 * under a fresh envelope id each call, as a replay of the orders topic would.
 */
export async function publishOrderCancelled(s: Stack, orderId: string, reason: string): Promise<void> {
  const envelope: Envelope<DataOf<typeof OrderStatusChanged>> = {
    id: randomUUID(),
    type: OrderStatusChanged.type,
    version: OrderStatusChanged.version,
    occurredAt: new Date().toISOString(),
    source: 'test-orders',
    correlationId: `corr-${orderId}`,
    causationId: null,
    data: { orderId: orderId as DataOf<typeof OrderStatusChanged>['orderId'], from: 'pending_payment', to: 'cancelled', reason },
  };
  const producer = testKafka(engines().kafkaBrokers).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic: `${s.w.topicPrefix}orders.events.v1`,
      messages: [
        {
          key: orderId,
          value: JSON.stringify(envelope),
          headers: {
            [Headers.messageType]: envelope.type,
            [Headers.messageVersion]: String(envelope.version),
            [Headers.subject]: 'cancelled',
          },
        },
      ],
    });
  } finally {
    await producer.disconnect();
  }
}
