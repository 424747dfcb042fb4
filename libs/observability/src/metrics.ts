import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per process, with Node's default metrics and the platform's own. */
export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

export const httpRequestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request duration by route and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [metricsRegistry],
});

export const redisFallbacks = new Counter({
  name: 'redis_fallbacks_total',
  help: 'Redis commands not run or failed because Redis was unreachable, by what they were for (the request went on without them)',
  labelNames: ['use'] as const,
  registers: [metricsRegistry],
});

export const messagesConsumed = new Counter({
  name: 'messages_consumed_total',
  help: 'Kafka messages handled, by topic and outcome (applied, duplicate, passed_over, skipped_unknown, dead_lettered, redriven)',
  labelNames: ['topic', 'group', 'outcome'] as const,
  registers: [metricsRegistry],
});

export const consumerChunkRedos = new Counter({
  name: 'kafka_consumer_chunk_redos_total',
  help: "Redo attempts of consumer chunks after a rollback, by reason: transient_conflict (a deadlock or serialisation failure, the chunk's bad luck) or handler_failed (a message failed or was malformed: redone message by message). A chunk redelivered after its redo failed counts again",
  labelNames: ['group', 'reason'] as const,
  registers: [metricsRegistry],
});

export const consumerRestarts = new Counter({
  name: 'kafka_consumer_restarts_total',
  help: 'Consumer groups restarted by the transport after a crash kafkajs would not restart itself',
  labelNames: ['group'] as const,
  registers: [metricsRegistry],
});

export const consumerWatchdogActions = new Counter({
  name: 'kafka_consumer_watchdog_actions_total',
  help: 'Consumer groups the watchdog found silent: restarted (kafkajs stopped fetching) or stuck (a handler never returned, or the silent consumer would not stop; /health/live answers 503)',
  labelNames: ['group', 'action'] as const,
  registers: [metricsRegistry],
});

export const consumerGroupUp = new Gauge({
  name: 'kafka_consumer_group_up',
  help: 'Whether a consumer group is running (1) or starting, restarting after a crash or stopped (0)',
  labelNames: ['group'] as const,
  registers: [metricsRegistry],
});

/** A source of lag samples, set by the process's Kafka consumer transport; read when `/metrics` is scraped. */
export type ConsumerLagSource = () => Promise<{ group: string; topic: string; partition: number; lag: number }[]>;
let lagSource: ConsumerLagSource | undefined;

export function reportConsumerLagFrom(source: ConsumerLagSource | undefined): void {
  lagSource = source;
}

export const consumerLag = new Gauge({
  name: 'kafka_consumer_lag_messages',
  help: "Messages on a partition after its consumer group's committed offset, read from the broker when scraped (a group that stopped consuming shows a growing lag)",
  labelNames: ['group', 'topic', 'partition'] as const,
  registers: [metricsRegistry],
  async collect() {
    if (!lagSource) return;
    // Only what the broker says now: a broker that does not answer leaves no stale numbers behind. (Every replica
    // of a service reports its groups' same lag: take the max across instances.)
    this.reset();
    for (const s of await lagSource()) this.set({ group: s.group, topic: s.topic, partition: String(s.partition) }, s.lag);
  },
});

/** Pending dead letters per consumer group, from the service's `dead_letters` table; read when scraped. */
let deadLetterSource: (() => Promise<{ group: string; pending: number }[]>) | undefined;

export function reportDeadLettersFrom(source: typeof deadLetterSource): void {
  deadLetterSource = source;
}

export const deadLettersPending = new Gauge({
  name: 'dead_letters_pending',
  help: 'Messages a consumer group dead-lettered and nobody has redriven yet (decision 0021); alert when above 0',
  labelNames: ['group'] as const,
  registers: [metricsRegistry],
  async collect() {
    if (!deadLetterSource) return;
    this.reset();
    for (const s of await deadLetterSource()) this.set({ group: s.group }, s.pending);
  },
});

export const offsetCommits = new Counter({
  name: 'kafka_offset_commits_total',
  help: 'Offset commit requests a consumer group sent to Kafka (at most one per commit interval while busy)',
  labelNames: ['group'] as const,
  registers: [metricsRegistry],
});

export const messageHandleDuration = new Histogram({
  name: 'message_handle_duration_seconds',
  help: 'Time to apply one consumed message, including its transaction',
  labelNames: ['topic', 'group'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  registers: [metricsRegistry],
});

export const outboxPublished = new Counter({
  name: 'outbox_published_total',
  help: 'Outbox rows published to Kafka, by topic',
  labelNames: ['topic'] as const,
  registers: [metricsRegistry],
});

/** What the service's outbox holds unpublished: rows (counted up to a cap) and the oldest one's age; read when scraped. */
export interface OutboxBacklog {
  /** The service's schema (the label: a gauge with no label would read 0 rather than nothing when unread). */
  schema: string;
  rows: number;
  oldestSeconds: number;
}
let outboxSource: (() => Promise<OutboxBacklog | undefined>) | undefined;
let outboxReading: { at: number; backlog: Promise<OutboxBacklog | undefined> } | undefined;

export function reportOutboxFrom(source: typeof outboxSource): void {
  outboxSource = source;
  outboxReading = undefined;
}

/** One reading serves both gauges of a scrape. */
function readOutbox(): Promise<OutboxBacklog | undefined> {
  const now = Date.now();
  if (!outboxSource) return Promise.resolve(undefined);
  if (!outboxReading || now - outboxReading.at > 1000) outboxReading = { at: now, backlog: outboxSource() };
  return outboxReading.backlog;
}

/**
 * A relay that cannot publish (Kafka away, a relay stalled, `OUTBOX_RELAY_ENABLED=false` on every replica) shows
 * here and nowhere else: `outbox_publish_lag_seconds` only measures rows that did get published.
 */
export const outboxUnpublishedRows = new Gauge({
  name: 'outbox_unpublished_rows',
  help: 'Rows of the service outbox not yet acknowledged by Kafka (counted up to 100000); the same on every replica',
  labelNames: ['schema'] as const,
  registers: [metricsRegistry],
  async collect() {
    // No reading (the database away or slow, no outbox in this process): no series, never a zero that reads as clear.
    this.reset();
    const b = await readOutbox();
    if (b) this.set({ schema: b.schema }, b.rows);
  },
});

export const outboxOldestUnpublished = new Gauge({
  name: 'outbox_oldest_unpublished_seconds',
  help: 'Age of the oldest outbox row not yet acknowledged by Kafka (0 when none); alert when it keeps growing',
  labelNames: ['schema'] as const,
  registers: [metricsRegistry],
  async collect() {
    this.reset();
    const b = await readOutbox();
    if (b) this.set({ schema: b.schema }, b.oldestSeconds);
  },
});

export const outboxLag = new Histogram({
  name: 'outbox_publish_lag_seconds',
  help: 'Time from an outbox row being committed to it being acknowledged by Kafka',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
  registers: [metricsRegistry],
});

export const scrapeReadingFailures = new Counter({
  name: 'metrics_reading_failures_total',
  help: 'Gauges read from the database at scrape time whose reading failed or took too long, by gauge; that scrape exports no value for them (no series, or NaN without labels), never a stale or zero one',
  labelNames: ['gauge'] as const,
  registers: [metricsRegistry],
});

/** A reading slower than this (the pool exhausted, the database struggling) gives up: the scrape must not time out. */
export const SCRAPE_READ_TIMEOUT_MS = 3000;

/**
 * A gauge's value read at scrape time, or undefined when the reading failed or was slow (counted in
 * `metrics_reading_failures_total`). Callers export nothing then: a value kept from an earlier scrape, or a zero, would
 * read as "all clear" while nobody can tell.
 */
export async function readForScrape<T>(gauge: string, read: () => Promise<T>, timeoutMs = SCRAPE_READ_TIMEOUT_MS): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const reading = read();
    reading.catch(() => undefined); // may still settle after the timeout, unobserved
    return await Promise.race([
      reading,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('slow')), timeoutMs))),
    ]);
  } catch {
    scrapeReadingFailures.inc({ gauge });
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
