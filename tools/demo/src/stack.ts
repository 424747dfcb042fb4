import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startEmulator, type EmulatorHandle } from '@omnipay/stripe-emulator';
import { ServiceProcess } from '@omnipay/testing';

const ROOT = path.resolve(__dirname, '../../..');

export const PORTS = { gateway: 3000, orders: 3001, payments: 3002, webhooks: 3003, terminal: 3004, emulator: 12180 } as const;
export type ServiceName = 'webhooks' | 'payments' | 'orders' | 'terminal' | 'gateway';

export interface Stack {
  emulator: EmulatorHandle;
  services: Record<ServiceName, ServiceProcess>;
  secrets: { jwt: string; webhook: string; admin: string };
  engines: Record<string, string>;
  logDir: string;
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
export async function startStack(onProgress: (msg: string) => void = () => undefined): Promise<Stack> {
  const engines = enginesFromInfra();
  const secrets = {
    jwt: randomBytes(24).toString('base64url'),
    webhook: `whsec_${randomBytes(24).toString('base64url')}`,
    admin: randomBytes(24).toString('base64url'),
  };
  const logDir = path.join(ROOT, '.cache/logs');
  mkdirSync(logDir, { recursive: true });
  const emulator = await startEmulator({
    port: PORTS.emulator,
    webhooks: [{ url: `http://127.0.0.1:${PORTS.webhooks}/stripe/webhooks`, secret: secrets.webhook }],
  });
  onProgress(`Stripe emulator on ${emulator.url}`);
  const url = (s: keyof typeof PORTS) => `http://127.0.0.1:${PORTS[s]}`;
  const common: Record<string, string> = {
    DATABASE_URL: engines.DATABASE_URL,
    REDIS_URL: engines.REDIS_URL,
    KAFKA_BROKERS: engines.KAFKA_BROKERS,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    STRIPE_API_BASE: emulator.url,
    STRIPE_SECRET_KEY: emulator.secretKey,
    STRIPE_PUBLISHABLE_KEY: emulator.publishableKey,
    STRIPE_WEBHOOK_SECRETS: secrets.webhook,
    ADMIN_TOKEN: secrets.admin,
    JWT_SECRET: secrets.jwt,
    ORDERS_URL: url('orders'),
    PAYMENTS_URL: url('payments'),
    TERMINAL_URL: url('terminal'),
  };
  const order: ServiceName[] = ['webhooks', 'payments', 'orders', 'terminal', 'gateway'];
  const services = {} as Record<ServiceName, ServiceProcess>;
  await Promise.all(
    order.map(async (name) => {
      services[name] = await new ServiceProcess({
        entry: `services/${name}/src/main.ts`,
        name,
        port: PORTS[name],
        env: common,
        logFile: path.join(logDir, `${name}.log`),
      }).start(90000);
      onProgress(`${name} ready on ${url(name)} (log: .cache/logs/${name}.log)`);
    }),
  );
  return {
    emulator,
    services,
    secrets,
    engines,
    logDir,
    async stop() {
      await Promise.all(Object.values(services).map((s) => s.stop()));
      await emulator.close();
    },
  };
}
