import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startEmulator, type EmulatorHandle } from '@omnipay/stripe-emulator';
import { PLATFORM_EVENT_TYPES } from '@omnipay/stripe';
import { TestDatabase } from './database';
import { freePort, uniqueName } from './engines';
import { ServiceProcess } from './service-process';

const ROOT = path.resolve(__dirname, '../../..');

export const PORTS = { gateway: 3000, orders: 3001, payments: 3002, webhooks: 3003, terminal: 3004, emulator: 12180 } as const;
export type ServiceName = 'webhooks' | 'payments' | 'orders' | 'terminal' | 'gateway';

export interface StackOptions {
  /**
   * Tests: random ports, and a schema suffix, topic prefix and group prefix unique to this stack, so it shares
   * the engines with other suites without seeing their data. The demo uses fixed ports and plain names.
   */
  isolated?: boolean;
  services?: ServiceName[];
  /** Extra settings per service (e.g. a short order TTL). */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  onProgress?: (msg: string) => void;
  /**
   * Drop the services' schemas first. The emulator keeps its state in memory, so a database left by an earlier
   * run would point at Stripe objects (locations, readers, customers) that no longer exist.
   */
  fresh?: boolean;
}

export interface Stack {
  emulator: EmulatorHandle;
  services: Record<ServiceName, ServiceProcess>;
  urls: Record<ServiceName, string>;
  /** Wire topic prefix ('' unless isolated). */
  topicPrefix: string;
  /** Schema of a service (isolated stacks suffix the service name). */
  schema(service: ServiceName): string;
  secrets: { jwt: string; webhook: string; admin: string };
  engines: Record<string, string>;
  logDir: string;
  /**
   * Starts one more process of a service beside the stack's (a replica on the same schema, topics and groups),
   * with some settings changed; stopped with the stack.
   */
  startReplica(name: ServiceName, env: Record<string, string>): Promise<ServiceProcess>;
  stop(): Promise<void>;
}

function enginesFromInfra(): Record<string, string> {
  const env: Record<string, string> = {};
  const file = path.join(ROOT, '.cache/infra/env');
  for (const line of readFileSync(file, 'utf8').trim().split('\n')) {
    const [k, ...v] = line.split('=');
    env[k] = process.env[k] ?? v.join('=');
  }
  return env;
}

/**
 * The whole platform on this machine: the Stripe emulator (in this process) and the five services as child
 * processes on their default ports, configured to talk to each other and to the local engines. Secrets are
 * generated per run: nothing here is a credential anyone else knows.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const onProgress = options.onProgress ?? (() => undefined);
  const engines = enginesFromInfra();
  const run = options.isolated ? uniqueName('stack') : '';
  const schema = (s: ServiceName) => (run ? `${s}_${run}` : s);
  const topicPrefix = run ? `${run}.` : '';
  if (options.fresh) {
    const db = new TestDatabase(engines.DATABASE_URL);
    try {
      for (const s of ['webhooks', 'payments', 'orders', 'terminal', 'gateway'] as ServiceName[]) await db.dropSchema(schema(s));
    } finally {
      await db.close();
    }
  }
  const ports = {} as Record<ServiceName | 'emulator', number>;
  for (const name of Object.keys(PORTS) as (ServiceName | 'emulator')[]) {
    ports[name] = options.isolated ? await freePort() : PORTS[name];
  }
  const secrets = {
    jwt: randomBytes(24).toString('base64url'),
    webhook: `whsec_${randomBytes(24).toString('base64url')}`,
    admin: randomBytes(24).toString('base64url'),
  };
  const logDir = path.join(ROOT, '.cache/logs');
  mkdirSync(logDir, { recursive: true });
  const emulator = await startEmulator({
    port: ports.emulator,
    // Subscribed as a production endpoint should be: to what the platform acts on.
    webhooks: [
      { url: `http://127.0.0.1:${ports.webhooks}/stripe/webhooks`, secret: secrets.webhook, enabled_events: [...PLATFORM_EVENT_TYPES] },
    ],
  });
  onProgress(`Stripe emulator on ${emulator.url}`);
  const url = (s: ServiceName) => `http://127.0.0.1:${ports[s]}`;
  const common: Record<string, string> = {
    // The stack leaves the internal APIs open (no SERVICE_TOKEN) and is called directly by tests and the demo: a
    // NODE_ENV=production in the shell must not make its services refuse to start (decision 0024).
    NODE_ENV: 'development',
    DATABASE_URL: engines.DATABASE_URL,
    REDIS_URL: engines.REDIS_URL,
    KAFKA_BROKERS: engines.KAFKA_BROKERS,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    STRIPE_API_BASE: emulator.url,
    STRIPE_PUBLISHABLE_KEY: emulator.publishableKey,
    STRIPE_WEBHOOK_SECRETS: secrets.webhook,
    ADMIN_TOKEN: secrets.admin,
    JWT_SECRET: secrets.jwt,
    ORDERS_URL: url('orders'),
    PAYMENTS_URL: url('payments'),
    TERMINAL_URL: url('terminal'),
    ...(run ? { KAFKA_TOPIC_PREFIX: topicPrefix, KAFKA_GROUP_PREFIX: run, REDIS_KEY_PREFIX: `${run}:`, KAFKA_SESSION_TIMEOUT_MS: '6000' } : {}),
  };
  // The webhooks backfill reads events with the emulator's restricted key (never the secret key); on demand only
  // (POST /admin/backfill), so a benchmark that parks deliveries on purpose is not raced by a timer.
  // The secret key goes to payments and terminal only.
  const ownEnv: Partial<Record<ServiceName, Record<string, string>>> = {
    webhooks: { STRIPE_EVENTS_READ_KEY: emulator.eventsReadKey, BACKFILL_INTERVAL_MS: '0' },
    payments: { STRIPE_SECRET_KEY: emulator.secretKey },
    terminal: { STRIPE_SECRET_KEY: emulator.secretKey },
  };
  const order: ServiceName[] = options.services ?? ['webhooks', 'payments', 'orders', 'terminal', 'gateway'];
  const services = {} as Record<ServiceName, ServiceProcess>;
  const envOf = (name: ServiceName) => ({ ...common, DATABASE_SCHEMA: schema(name), ...(ownEnv[name] ?? {}), ...(options.env?.[name] ?? {}) });
  const replicas: ServiceProcess[] = [];
  const results = await Promise.allSettled(
    order.map(async (name) => {
      const proc = new ServiceProcess({
        entry: `services/${name}/src/main.ts`,
        name,
        port: ports[name],
        env: envOf(name),
        logFile: run ? undefined : path.join(logDir, `${name}.log`),
      });
      services[name] = proc;
      await proc.start(90000);
      onProgress(`${name} ready on ${url(name)}${run ? '' : ` (log: .cache/logs/${name}.log)`}`);
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Do not leave the services that did start running behind a failed start.
    await Promise.all(Object.values(services).map((s) => s.stop()));
    await emulator.close();
    throw failed.reason;
  }
  return {
    emulator,
    services,
    urls: Object.fromEntries(order.map((s) => [s, url(s)])) as Record<ServiceName, string>,
    topicPrefix,
    schema,
    secrets,
    engines,
    logDir,
    async startReplica(name, env) {
      const proc = new ServiceProcess({
        entry: `services/${name}/src/main.ts`,
        name: `${name}-replica${replicas.length + 1}`,
        port: await freePort(),
        env: { ...envOf(name), ...env },
      });
      replicas.push(proc);
      return proc.start(90000);
    },
    async stop() {
      await Promise.all([...replicas, ...Object.values(services)].map((s) => s.stop()));
      await emulator.close();
    },
  };
}
