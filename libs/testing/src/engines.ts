import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

export interface Engines {
  databaseUrl: string;
  redisUrl: string;
  kafkaBrokers: string;
  stripeMockUrl: string;
}

/** The real engines the integration suite runs against (set by global-setup.js). */
export function engines(): Engines {
  const need = (name: string): string => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set: run integration tests through their jest.integration.config.js`);
    return v;
  };
  return {
    databaseUrl: need('DATABASE_URL'),
    redisUrl: need('REDIS_URL'),
    kafkaBrokers: need('KAFKA_BROKERS'),
    stripeMockUrl: need('STRIPE_MOCK_URL'),
  };
}

/**
 * The settings that put one service process on the real engines in a world of its own: its schema, topic
 * prefix, consumer-group prefix and Redis key prefix are all `run`.
 */
export function isolatedServiceEnv(run: string): Record<string, string> {
  const e = engines();
  return {
    DATABASE_URL: e.databaseUrl,
    REDIS_URL: e.redisUrl,
    KAFKA_BROKERS: e.kafkaBrokers,
    DATABASE_SCHEMA: run,
    KAFKA_TOPIC_PREFIX: `${run}.`,
    KAFKA_GROUP_PREFIX: run,
    REDIS_KEY_PREFIX: `${run}:`,
  };
}

/** A lower-case name unique to this test run: schema names, topic prefixes, group prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}${randomBytes(3).toString('hex')}`.toLowerCase();
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function eventually<T>(
  fn: () => Promise<T>,
  check: (v: T) => boolean,
  { timeoutMs = 30000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (check(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
