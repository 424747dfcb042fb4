import { z } from 'zod';

/** `true`/`false` (or 1/0) from the environment. */
export const booleanSetting = z
  .enum(['true', 'false', '1', '0'])
  .transform((v) => v === 'true' || v === '1');

/** A comma-separated list (keys during a rotation): blanks around and between items ignored, each item checked. */
export function commaSeparated(item: z.ZodString, max: number) {
  return z
    .string()
    .min(1)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(item).min(1).max(max));
}

const kafkaBrokers = z
  .string()
  .min(1)
  .transform((v) => v.split(',').map((b) => b.trim()))
  .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'each broker must be host:port')).min(1));

/**
 * Settings every service has, the gateway included: HTTP, logs and Redis. The gateway is an edge: it reaches the
 * other services over HTTP and needs neither PostgreSQL nor Kafka (`edgeConfigSchema.extend`).
 */
export const edgeConfigSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535),
  /** Loopback by default; containers set 0.0.0.0. */
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `errors`: one access-log line only for 4xx/5xx and slow (> 1 s) requests; for high-volume endpoints. */
  HTTP_ACCESS_LOG: z.enum(['all', 'errors']).default('all'),
  /**
   * How long an idle keep-alive connection stays open. Longer than the idle timeout of the load balancers and
   * clients in front (60 s is common), so that the client, not the server, closes an idle connection: a server
   * closing first races a client reusing it, and the request dies with ECONNRESET.
   */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600000).default(65000),
  REDIS_URL: z.string().url().startsWith('redis', 'must be a redis:// URL'),
  /** Prefixed to every Redis key (ioredis keyPrefix): deployments or test runs sharing one Redis never collide. */
  REDIS_KEY_PREFIX: z.string().regex(/^[A-Za-z0-9._:-]*$/).default(''),
  /**
   * Bearer token `/metrics` asks for (Prometheus's `authorization` setting); unset = open. Set it wherever the
   * port is reachable from outside, the gateway's above all.
   */
  METRICS_TOKEN: z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
  /**
   * Bearer token of the internal APIs (orders, payments, terminal); two comma-separated during a rotation (old,new
   * everywhere, then new,old, then new): a service accepts either, a caller (the gateway, terminal) sends the first. Unset = those APIs are open to anyone who
   * reaches them, which only development and tests allow: with NODE_ENV=production a service that serves or calls
   * them refuses to start without it (decision 0024).
   */
  SERVICE_TOKEN: commaSeparated(z.string().min(16, 'each SERVICE_TOKEN must be at least 16 characters'), 2).optional(),
});

export type EdgeConfig = z.infer<typeof edgeConfigSchema>;

/**
 * Settings every service that owns state has: the edge's plus PostgreSQL (own schema) and Kafka (outbox, relay,
 * consumers). Services extend this with their own (see each service's `config.ts`).
 */
export const baseConfigSchema = edgeConfigSchema.extend({
  DATABASE_URL: z.string().url().startsWith('postgres', 'must be a postgres:// URL'),
  /** Each service owns one schema; tests give every run its own. */
  DATABASE_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier'),
  /** Consumer groups apply up to KAFKA_CONSUMER_CONCURRENCY chunks each at once, beside HTTP and the relay. */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  /**
   * How long a statement waits for a row lock before it gives up (55P03): an API call answers 503 with Retry-After
   * instead of hanging behind a hot row, a consumer chunk is redone.
   */
  DATABASE_LOCK_TIMEOUT_MS: z.coerce.number().int().min(1).max(60000).default(5000),
  KAFKA_BROKERS: kafkaBrokers,
  /** Prefixed to consumer group ids and client ids; one per deployment (tests use a unique one per run). */
  KAFKA_GROUP_PREFIX: z.string().regex(/^[A-Za-z0-9._-]+$/).default('omnipay'),
  /** Prefixed to topic names; empty in production, unique per test run so suites can share one broker. */
  KAFKA_TOPIC_PREFIX: z.string().regex(/^[A-Za-z0-9._-]*$/).default(''),
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(256).default(6),
  /**
   * Partitions a consumer group applies at once, each in its own transaction. kafkajs fetches again only when
   * every partition of the last fetch is done, so more makes a fetch cycle shorter; but chunks that update the
   * same rows (one hot SKU's stock) then wait on each other's locks. Measured in bench/README.md.
   */
  KAFKA_CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(3),
  /**
   * How long the broker waits for a silent consumer before giving its partitions to another. A crashed replica's
   * partitions stall this long; the broker's floor is 6000 ms.
   */
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300000).default(10000),
  /**
   * A running consumer group that goes this long without a fetch (kafkajs hung on a connection) is restarted with a
   * new consumer; one whose chunk of messages has been in hand this long (a handler that never returns) makes
   * `/health/live` answer 503, so the orchestrator replaces the process (decision 0023). Above kafkajs's 60 s
   * rebalance timeout, so a slow join is not taken for a hang. 0 turns the watchdog off.
   */
  KAFKA_CONSUMER_WATCHDOG_MS: z.coerce.number().int().min(0).max(3_600_000).default(90_000),
  /**
   * TLS to the brokers (managed Kafka: MSK, Confluent Cloud, Aiven). The brokers' certificates are checked against
   * the system's CAs, or only those of KAFKA_SSL_CA_FILE (a PEM bundle) when set.
   */
  KAFKA_SSL: booleanSetting.default('false'),
  KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  /** SASL authentication to the brokers; unset: none. Needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD. */
  KAFKA_SASL_MECHANISM: z
    .preprocess((v) => (typeof v === 'string' ? v.toLowerCase() : v), z.enum(['plain', 'scram-sha-256', 'scram-sha-512']))
    .optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).optional(),
  KAFKA_SASL_PASSWORD: z.string().min(1).optional(),
  OUTBOX_RELAY_ENABLED: booleanSetting.default('true'),
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60000).default(250),
  /** How long the relay waits after a commit woke it, so rows committed meanwhile share one pass (0 = at once). */
  OUTBOX_LINGER_MS: z.coerce.number().int().min(0).max(10000).default(5),
  /**
   * How often old rows are deleted (published outbox rows, inbox records, and each service's own: decision 0015);
   * 0 turns the sweeper off.
   */
  RETENTION_SWEEP_MS: z.coerce.number().int().min(0).max(86_400_000).default(600_000),
  /** Published outbox rows are kept this long (for looking into what was sent); 0 keeps them for ever. */
  OUTBOX_RETENTION_HOURS: z.coerce.number().int().min(0).max(24 * 3650).default(24),
  /**
   * Inbox records (the message ids a consumer group has applied) are kept this long. A message redelivered later
   * than this would be applied again: keep it longer than a message can stay in a topic (Kafka deletes whole
   * segments: up to retention.ms + segment.ms, 14 days with the defaults) if a group's offsets may ever be rewound
   * or expire. 0 keeps them for ever.
   */
  INBOX_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(14),
  CONSUMER_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  CONSUMER_RETRY_BACKOFF_MS: z.coerce.number().int().min(0).max(60000).default(100),
  /** Bearer token of the service's `/admin/*` routes (operators, not clients). Unset = those routes answer 404. */
  ADMIN_TOKEN: z.string().min(16, 'ADMIN_TOKEN must be at least 16 characters').optional(),
});

export type BaseConfig = z.infer<typeof baseConfigSchema>;
