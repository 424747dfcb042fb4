import Stripe from 'stripe';
// The emulator is a test tool (an Nx application); services' tests start it in-process as the brief asks.
import { startEmulator, type EmulatorHandle } from '@omnipay/stripe-emulator';
import {
  engines,
  freePort,
  ServiceProcess,
  TestDatabase,
  testKafka,
  TopicRecorder,
  uniqueName,
} from '@omnipay/testing';

export const WEBHOOK_SECRET = 'whsec_terminal_e2e_0123456789abcdef';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, asserted field by field
export type Json = Record<string, any>;

/** One isolated run: schemas, topic prefix and group prefix shared by the four services, unique to this suite. */
export function world(name: string) {
  const run = uniqueName(name);
  return { run, topicPrefix: `${run}.`, groupPrefix: run };
}
export type World = ReturnType<typeof world>;

export interface TerminalStack {
  w: World;
  emu: EmulatorHandle;
  stripe: Stripe;
  webhooks: ServiceProcess;
  payments: ServiceProcess;
  orders: ServiceProcess;
  terminal: ServiceProcess;
  recorder: TopicRecorder;
  db: TestDatabase;
  /** Starts (another) terminal process on the same schema and groups, e.g. after a SIGKILL. */
  startTerminal(extra?: Record<string, string>): Promise<ServiceProcess>;
  schema(service: 'terminal' | 'payments' | 'orders' | 'webhooks'): string;
}

function commonEnv(w: World): Record<string, string> {
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
    LOG_LEVEL: 'info',
  };
}

export async function startTerminalStack(
  name: string,
  terminalEnv: Record<string, string> = {},
): Promise<TerminalStack> {
  const w = world(name);
  const schema = (s: string) => `${w.run}_${s}`;
  const emu = await startEmulator({
    port: 0,
    webhookRetry: { initialDelayMs: 50, maxDelayMs: 500, maxDurationMs: 30000, attemptTimeoutMs: 3000 },
  });
  const stripeEnv = {
    STRIPE_SECRET_KEY: emu.secretKey,
    STRIPE_PUBLISHABLE_KEY: emu.publishableKey,
    STRIPE_API_BASE: emu.url,
  };
  const [webhooks, payments, orders] = await Promise.all([
    (async () =>
      new ServiceProcess({
        entry: 'services/webhooks/src/main.ts',
        name: `webhooks(${w.run})`,
        port: await freePort(),
        env: { ...commonEnv(w), DATABASE_SCHEMA: schema('wh'), STRIPE_WEBHOOK_SECRETS: WEBHOOK_SECRET },
      }).start(90_000))(),
    (async () =>
      new ServiceProcess({
        entry: 'services/payments/src/main.ts',
        name: `payments(${w.run})`,
        port: await freePort(),
        env: {
          ...commonEnv(w),
          ...stripeEnv,
          DATABASE_SCHEMA: schema('pay'),
          RECONCILIATION_POLL_MS: '200',
          PAYMENTS_JANITOR_INTERVAL_MS: '1000',
          PAYMENTS_JANITOR_MIN_AGE_MS: '3000',
        },
      }).start(90_000))(),
    (async () =>
      new ServiceProcess({
        entry: 'services/orders/src/main.ts',
        name: `orders(${w.run})`,
        port: await freePort(),
        env: { ...commonEnv(w), DATABASE_SCHEMA: schema('ord'), ORDER_PAYMENT_TTL_S: '900' },
      }).start(90_000))(),
  ]);
  emu.addWebhookEndpoint({ url: `${webhooks.url}/stripe/webhooks`, secret: WEBHOOK_SECRET });
  const startTerminal = async (extra: Record<string, string> = {}) =>
    new ServiceProcess({
      entry: 'services/terminal/src/main.ts',
      name: `terminal(${w.run})`,
      port: await freePort(),
      env: {
        ...commonEnv(w),
        ...stripeEnv,
        DATABASE_SCHEMA: schema('term'),
        PAYMENTS_URL: payments.url,
        ORDERS_URL: orders.url,
        TERMINAL_SWEEP_MS: '200',
        READER_ACTION_TIMEOUT_MS: '5000',
        // Long enough for a test to act on a pending action before the sweeper does, short enough to wait for.
        READER_PENDING_GRACE_MS: '8000',
        ...terminalEnv,
        ...extra,
      },
    }).start(90_000);
  const terminal = await startTerminal();
  const recorder = await new TopicRecorder(testKafka(engines().kafkaBrokers), [
    `${w.topicPrefix}terminal.events.v1`,
    `${w.topicPrefix}payments.events.v1`,
  ]).start();
  return {
    w,
    emu,
    stripe: new Stripe(emu.secretKey, { ...emu.stripeConfig, maxNetworkRetries: 0, telemetry: false }),
    webhooks,
    payments,
    orders,
    terminal,
    recorder,
    db: new TestDatabase(engines().databaseUrl),
    startTerminal,
    schema: (s) => schema({ terminal: 'term', payments: 'pay', orders: 'ord', webhooks: 'wh' }[s]),
  };
}

export async function stopTerminalStack(s: TerminalStack | undefined): Promise<void> {
  if (!s) return;
  await Promise.all(
    [s.terminal, s.orders, s.payments, s.webhooks].map((p) => p.stop().catch(() => undefined)),
  );
  await s.recorder.stop().catch(() => undefined);
  await s.emu.close().catch(() => undefined);
  for (const x of ['terminal', 'payments', 'orders', 'webhooks'] as const)
    await s.db.dropSchema(s.schema(x)).catch(() => undefined);
  await s.db.close().catch(() => undefined);
}

/** Terminal events on the wire for one reader, one per envelope id. */
export function terminalEvents(s: TerminalStack, readerId: string): Json[] {
  const out = new Map<string, Json>();
  for (const m of s.recorder.on(`${s.w.topicPrefix}terminal.events.v1`)) {
    const env = m.json as Json | null;
    if (env && m.key === readerId && !out.has(env.id as string)) out.set(env.id as string, env);
  }
  return [...out.values()];
}

export function paymentEvents(s: TerminalStack, orderId: string): Json[] {
  const out = new Map<string, Json>();
  for (const m of s.recorder.on(`${s.w.topicPrefix}payments.events.v1`)) {
    const env = m.json as Json | null;
    if (env && m.key === orderId && !out.has(env.id as string)) out.set(env.id as string, env);
  }
  return [...out.values()];
}
