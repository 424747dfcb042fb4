import { Server, type CustomTransportStrategy, type MessageHandler } from '@nestjs/microservices';
import { Headers, deadLetterTopic, parseMessage, type Envelope, type MessageDefinition } from '@omnipay/contracts';
import {
  JsonLogger,
  consumerChunkRedos,
  messageHandleDuration,
  messagesConsumed,
  newContext,
  offsetCommits,
  runWithContext,
  consumerGroupUp,
  consumerRestarts,
  consumerWatchdogActions,
  reportConsumerLagFrom,
} from '@omnipay/observability';
import { committed, isDatabaseUnavailable, isTransientConflict, rolledBack } from '@omnipay/persistence';
import type { Admin, Batch, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { lastValueFrom } from 'rxjs';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import { ensureTopics } from '../kafka/topic-admin';
import { KafkaPublisher } from '../kafka/publisher';
import type { MessagingSettings } from '../messaging.settings';
import { OutboxService } from '../outbox/outbox.service';
import { rememberTraceparent, type ConsumedBatch, type ConsumedMessage } from './consumed-message';
import { consumerLag, type PartitionLag } from './consumer-lag';
import { listDeadLetters, malformedLetterId, recordDeadLetter, takeForRedrive } from './dead-letters';
import type { ConsumerGroupState } from './consumer-group-state';
import { judgeGroup } from './consumer-watchdog';
import type { HandlerExtras } from './on-message.decorator';

/** Messages applied in one transaction. Small enough that a rollback redoes little work. */
const CHUNK = 200;

interface Parsed {
  raw: KafkaMessage;
  envelope?: Envelope;
  definition?: MessageDefinition;
  problem?: { reason: 'malformed' | 'unknown_type'; detail: string };
}

interface Route {
  handler: MessageHandler;
  batch: boolean;
  /** Subjects the handler reads; undefined = every message. */
  subjects?: ReadonlySet<string>;
  /** Message kinds the handler reads; undefined = every kind. */
  types?: ReadonlySet<string>;
}

export type RouteFilter = Pick<Route, 'subjects' | 'types'>;

/**
 * Whether a message's `message-subject` or `message-type` header rules it out for a route (a header the message
 * does not carry never rules it out).
 */
export function passedOver(route: RouteFilter, raw: Pick<KafkaMessage, 'headers'>): boolean {
  const ruledOut = (wanted: ReadonlySet<string> | undefined, header: string) => {
    if (!wanted) return false;
    const value = raw.headers?.[header];
    return value !== undefined && value !== null && !wanted.has(value.toString());
  };
  return ruledOut(route.types, Headers.messageType) || ruledOut(route.subjects, Headers.subject);
}

interface Group {
  groupId: string;
  handlers: Map<string, Route>; // logical topic → handler
  consumer?: Consumer;
  state: ConsumerGroupState;
  /** Crashes kafkajs would not restart, since the group last joined. */
  crashes?: number;
  restartTimer?: NodeJS.Timeout;
  /** The last batch's offset functions: kafkajs's own bookkeeping of what was resolved and not yet committed. */
  offsets?: Pick<EachBatchPayload, 'commitOffsetsIfNecessary' | 'uncommittedOffsets'>;
  flushTimer?: NodeJS.Timeout;
  /** The last sign of life with nothing in hand: a fetch started, a join, a rebalance, a crash, a chunk finished. */
  lastFetchAt: number;
  /**
   * When the chunk each partition worker has in hand (`topic/partition`) began or last made progress (a message
   * applied, a retry attempt, a redo, a batch handler's `progress()`); empty between batches.
   */
  chunks: Map<string, number>;
  /** Stuck on a chunk (it may yet finish, and the group run again) or on a consumer that would not stop. */
  stuckOn?: 'chunk' | 'stop';
  /** kafkajs is restarting the consumer after a crash it recovers from (`starting` until it joins again). */
  selfRestarting?: boolean;
}

/** How often offsets are committed: at most once per interval while busy, and once more when a group goes idle. */
const COMMIT_INTERVAL_MS = 500;
/** A partition worker's key in `Group.chunks`. */
const workerKey = (topic: string, partition: number): string => `${topic}/${partition}`;
/** How long a silent consumer may take to stop before the watchdog gives up on it (the process is then replaced). */
const STOP_LIMIT_MS = 15_000;
/** Dead letters one redrive call applies at most (oldest first); an operator calls again for more. */
const REDRIVE_LIMIT = 100;

export interface RedriveResult {
  redriven: string[];
  failed: { messageId: string; error: string }[];
  /** Asked for by id but not pending: unknown, redriven already, or taken by a redrive running at the same time. */
  skipped: string[];
}

export class UnknownGroupError extends Error {}

/** Scrapes within this long share one reading of the lag; a reading gives up after LAG_TIMEOUT_MS. */
const LAG_CACHE_MS = 5000;
const LAG_TIMEOUT_MS = 3000;

/** What kafkajs reports when a consumer crashed: whether it restarts the consumer itself. */
export interface ConsumerCrash {
  payload: { error: Error; groupId: string; restart: boolean };
}

/**
 * kafkajs restarts a consumer after a retriable error (a broker away, a rebalance, a handler failing past its
 * retries) but not after a non-retriable one: no group coordinator found after its retries (a broker restarting
 * for longer than ~20 s), an authorisation or protocol error, a `TypeError` escaping the transport's own code. That
 * group would stay stopped for good while the process kept answering HTTP and health checks. The transport then
 * restarts the group itself, after this backoff (1 s doubling to a minute, for as long as it takes; reset once the
 * group has joined again), rather than stop the service: its HTTP API does not need Kafka (the outbox waits).
 */
export function crashRestartDelayMs(crashesInARow: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, Math.min(crashesInARow - 1, 6)));
}

/**
 * A Nest transport strategy on kafkajs that turns `@OnMessage` handlers into exactly-once effects:
 * - one consumer group per (service, module) so each module sees every message (never Nest's shared default);
 * - each chunk of a batch is applied in one transaction that also records every message id in the inbox, so a
 *   redelivered message is recognised and skipped; offsets are committed after the transaction;
 * - a handler that throws is retried with backoff, alone (the chunk is redone with savepoints around each
 *   message), then its message is sent to `<topic>.dlq` and marked dead-lettered, and the messages behind it
 *   go on; a database outage or a lost race (deadlock, serialisation failure) is not the message's fault: the
 *   chunk or batch is redone instead, never dead-lettered;
 * - correlation id and trace context from the headers become the context of logs and of messages it emits.
 */
export class KafkaConsumerServer extends Server implements CustomTransportStrategy {
  private readonly groups = new Map<string, Group>();
  private closed = false;
  private admin?: Admin;
  private lagReading?: { at: number; done: boolean; lags: Promise<PartitionLag[]> };
  private watchdog?: NodeJS.Timeout;

  constructor(
    private readonly kafka: Kafka,
    private readonly settings: MessagingSettings,
    private readonly dataSource: DataSource,
    private readonly publisher: KafkaPublisher,
    private readonly outbox: OutboxService,
    private readonly log: JsonLogger,
  ) {
    super();
  }

  on(): never {
    throw new Error('KafkaConsumerServer does not expose transport events');
  }

  unwrap<T>(): T {
    return [...this.groups.values()].map((g) => g.consumer) as T;
  }

  listen(callback: (error?: unknown) => void): void {
    // Nest's transport contract is callback-based: report start-up success or failure exactly once.
    this.start().then(
      () => callback(), // eslint-disable-line promise/no-callback-in-promise
      (error: unknown) => callback(error), // eslint-disable-line promise/no-callback-in-promise
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await Promise.all(
      [...this.groups.values()].map(async (g) => {
        clearInterval(g.flushTimer);
        clearTimeout(g.restartTimer);
        await this.commitOffsets(g, true);
        await g.consumer?.disconnect().catch(() => undefined);
        this.setState(g, { state: 'stopped' });
      }),
    );
    reportConsumerLagFrom(undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }

  /**
   * Each group's lag per partition, from the broker (see `consumerLag`), topics named as the handlers name them;
   * empty when the broker does not answer in time. Scrapes close together share one reading.
   */
  async lag(): Promise<PartitionLag[]> {
    const now = Date.now();
    const last = this.lagReading;
    // A reading still under way (Kafka slow or away) is shared, not joined by another one per scrape.
    if (!last || (now - last.at >= LAG_CACHE_MS && last.done)) {
      const reading = { at: now, done: false, lags: this.readLag() };
      void reading.lags.finally(() => (reading.done = true));
      this.lagReading = reading;
    }
    return this.lagReading!.lags;
  }

  private async readLag(): Promise<PartitionLag[]> {
    let timer: NodeJS.Timeout | undefined;
    try {
      // No retries of its own: the next scrape is the retry, and a reading must not outlive it.
      this.admin ??= this.kafka.admin({ retry: { retries: 0 } });
      const admin = this.admin;
      const groups = [...this.groups.values()].map((g) => ({ groupId: g.groupId, topics: [...g.handlers.keys()].map((t) => this.publisher.wireTopic(t)) }));
      const reading = admin.connect().then(() => consumerLag(admin, groups));
      reading.catch(() => undefined); // still settles after a timeout, unobserved
      const lags = await Promise.race([
        reading,
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${LAG_TIMEOUT_MS} ms`)), LAG_TIMEOUT_MS))),
      ]);
      return lags.map((l) => ({ ...l, topic: l.topic.slice(this.settings.topicPrefix.length) }));
    } catch (error) {
      this.log.pino.debug({ err: error }, 'could not read consumer lag from Kafka');
      return [];
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Commits what the group's batches resolved: when due (`force` = now, on shutdown). A group with nothing
   * uncommitted costs no request. A failure (a rebalance took the partitions) is left to redelivery and the inbox.
   */
  private async commitOffsets(group: Group, force: boolean): Promise<void> {
    const offsets = group.offsets;
    if (!offsets) return;
    try {
      if (!force) return await offsets.commitOffsetsIfNecessary();
      const pending = offsets.uncommittedOffsets();
      if (pending.topics.length > 0) await offsets.commitOffsetsIfNecessary(pending);
    } catch (error) {
      this.log.pino.debug({ err: error, groupId: group.groupId }, 'offset commit failed; what it covered is redelivered');
    }
  }

  /** The consumer groups this process runs. */
  groupIds(): string[] {
    return [...this.groups.keys()];
  }

  /**
   * Applies a group's pending dead letters again through the group's own handler (decision 0021), for after the cause
   * was fixed: each in a transaction of its own with the group's inbox, so it is applied once however often this is
   * called. One that fails again stays pending, its error in the answer. `messageIds` omitted: the oldest 100.
   */
  async redrive(groupId: string, messageIds?: string[]): Promise<RedriveResult> {
    const group = this.groups.get(groupId);
    if (!group) throw new UnknownGroupError(`no consumer group ${groupId} in this service`);
    const result: RedriveResult = { redriven: [], failed: [], skipped: [] };
    const letters = await listDeadLetters(this.dataSource, {
      group: groupId,
      pending: true,
      messageIds,
      limit: messageIds?.length ?? REDRIVE_LIMIT,
    });
    const listed = new Set(letters.map((l) => l.messageId));
    result.skipped.push(...(messageIds ?? []).filter((id) => !listed.has(id)));
    for (const letter of letters) {
      const route = group.handlers.get(letter.topic);
      const raw: KafkaMessage = {
        key: letter.key === null ? null : Buffer.from(letter.key),
        value: Buffer.from(letter.payload),
        headers: Object.fromEntries(Object.entries(letter.headers).map(([k, v]) => [k, Buffer.from(v)])),
        offset: letter.offset,
        timestamp: String(Date.now()),
        attributes: 0,
      };
      const parsed = this.parse(raw);
      if (!route || !parsed.envelope) {
        const error = route ? `cannot be applied: ${parsed.problem?.detail}` : `no handler for ${letter.topic} in ${groupId}`;
        result.failed.push({ messageId: letter.messageId, error });
        continue;
      }
      let wrote = false;
      let taken = false;
      try {
        for (let conflicts = 0; ; conflicts++) {
          try {
            await this.inTransaction(
              async (qr) => {
                taken = await takeForRedrive(qr.manager, groupId, letter.messageId);
                if (!taken) return; // another redrive took it meanwhile
                const fresh = await this.recordInInbox(group, letter.topic, [parsed], qr.manager);
                if (fresh.size > 0) await this.invoke(route, this.toConsumed(parsed, letter.topic, letter.partition, 1, qr.manager), raw);
              },
              (qr) => (wrote = this.outbox.wroteIn(qr.manager)),
            );
            break;
          } catch (error) {
            // Lost a race (the live consumer, another redrive): redone once the locks are gone, as a chunk would be.
            if (!isTransientConflict(error) || conflicts >= 5) throw error;
            await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (conflicts + 1)));
          }
        }
        if (!taken) {
          result.skipped.push(letter.messageId);
          continue;
        }
        result.redriven.push(letter.messageId);
        messagesConsumed.inc({ topic: letter.topic, group: groupId, outcome: 'redriven' });
        this.log.pino.info({ groupId, messageId: letter.messageId, type: letter.messageType }, 'dead letter redriven');
      } catch (error) {
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        result.failed.push({ messageId: letter.messageId, error: message });
        this.log.pino.warn({ err: error, groupId, messageId: letter.messageId }, 'dead letter failed again; it stays dead-lettered');
      }
      if (wrote) this.outbox.nudge();
    }
    return result;
  }

  /** Each consumer group's state by group id: copies, for `/health/ready`. */
  groupStates(): Record<string, ConsumerGroupState> {
    return Object.fromEntries([...this.groups.values()].map((g) => [g.groupId, { ...g.state }]));
  }

  private setState(group: Group, state: ConsumerGroupState): void {
    group.state = state;
    consumerGroupUp.set({ group: group.groupId }, state.state === 'running' ? 1 : 0);
  }

  private collectGroups(): void {
    for (const [, handler] of this.messageHandlers) {
      const extras = handler.extras as HandlerExtras | undefined;
      if (!extras?.topic) continue;
      const suffix = extras.group ? `.${extras.group}` : '';
      const groupId = `${this.settings.groupPrefix}.${this.settings.service}${suffix}`;
      const group: Group = this.groups.get(groupId) ?? {
        groupId,
        handlers: new Map(),
        state: { state: 'starting' },
        lastFetchAt: Date.now(),
        chunks: new Map(),
      };
      if (group.handlers.has(extras.topic)) throw new Error(`Two handlers for ${extras.topic} in group ${groupId}`);
      group.handlers.set(extras.topic, {
        handler,
        batch: extras.batch === true,
        subjects: extras.subjects ? new Set(extras.subjects) : undefined,
        types: extras.types ? new Set(extras.types) : undefined,
      });
      this.groups.set(groupId, group);
    }
  }

  private async start(): Promise<void> {
    this.collectGroups();
    if (this.groups.size === 0) return;
    const topics = [...this.groups.values()].flatMap((g) => [...g.handlers.keys()]);
    await ensureTopics(
      this.kafka,
      topics.flatMap((t) => [this.publisher.wireTopic(t), this.publisher.wireTopic(deadLetterTopic(t))]),
      this.settings.partitions,
    );
    const limitMs = this.settings.watchdogMs ?? 0;
    // A retry's backoff is a silence the watchdog cannot see through: the longest must fit inside its limit.
    const longestBackoffMs = this.settings.retryBackoffMs * 2 ** Math.max(0, this.settings.maxAttempts - 2);
    if (limitMs > 0 && longestBackoffMs >= limitMs)
      throw new Error(
        `KAFKA_CONSUMER_WATCHDOG_MS (${limitMs}) must be longer than the longest retry backoff, CONSUMER_RETRY_BACKOFF_MS × 2^(CONSUMER_MAX_ATTEMPTS − 2) = ${longestBackoffMs} ms`,
      );
    if (limitMs > 0) {
      this.watchdog = setInterval(() => this.watch(limitMs), Math.min(5000, Math.max(250, limitMs / 4)));
      this.watchdog.unref();
    }
    for (const group of this.groups.values()) await this.startGroup(group);
    reportConsumerLagFrom(async () => (await this.lag()).map((l) => ({ group: l.groupId, topic: l.topic, partition: l.partition, lag: l.lag })));
  }

  /** Creates, joins and runs a group's consumer (at start, and again after a crash kafkajs will not restart). */
  private async startGroup(group: Group): Promise<void> {
    this.setState(group, { state: 'starting' });
    const consumer = this.kafka.consumer({
      groupId: group.groupId,
      sessionTimeout: this.settings.sessionTimeoutMs,
      heartbeatInterval: Math.max(500, Math.floor(this.settings.sessionTimeoutMs / 10)),
      allowAutoTopicCreation: false,
      // The broker answers a fetch as soon as data arrives, so a longer wait adds no latency; it only makes an
      // idle group poll less often (at 100 ms the idle fetch loops cost each service 5–10 % of a core).
      maxWaitTimeInMs: 500,
      retry: {
        retries: 10,
        initialRetryTime: 300,
        maxRetryTime: 10000,
        // A consumer the watchdog replaced (or one of a closing service) is never brought back by kafkajs.
        restartOnFailure: async () => current(),
      },
    });
    group.consumer = consumer;
    // Only the group's current consumer speaks for it: one the watchdog gave up on may still wake up.
    const current = () => group.consumer === consumer && !this.closed;
    consumer.on(consumer.events.COMMIT_OFFSETS, () => offsetCommits.inc({ group: group.groupId }));
    // A crashed or rejoined consumer has a new offset manager: the last batch's functions would commit for the
    // old member (and fail every interval) until the next batch.
    const forget = () => current() && (group.offsets = undefined);
    const alive = () => current() && (group.lastFetchAt = Date.now());
    consumer.on(consumer.events.CRASH, forget);
    consumer.on(consumer.events.CRASH, alive); // an error is not silence: its own backoff is under way
    consumer.on(consumer.events.CRASH, (event) => this.onCrash(group, consumer, event as ConsumerCrash));
    consumer.on(consumer.events.FETCH_START, alive);
    consumer.on(consumer.events.REBALANCING, alive);
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (!current()) {
        if (!this.closed) void consumer.disconnect().catch(() => undefined); // an abandoned consumer came back
        return;
      }
      alive();
      forget();
      group.crashes = 0;
      group.selfRestarting = false;
      this.setState(group, { state: 'running' });
    });
    // A fresh broker creates its offsets topic on the first group join and may answer "coordinator not
    // available" for a while, longer than kafkajs's own retries when several groups join at once.
    for (let attempt = 1; ; attempt++) {
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [...group.handlers.keys()].map((t) => this.publisher.wireTopic(t)), fromBeginning: true });
        break;
      } catch (error) {
        if (attempt >= 10 || this.closed) throw error;
        this.log.pino.warn({ err: error, groupId: group.groupId, attempt }, 'consumer could not join yet; retrying');
        await consumer.disconnect().catch(() => undefined);
        await new Promise((r) => setTimeout(r, Math.min(5000, 500 * attempt)));
      }
    }
    if (!current()) {
      // Closed (or replaced) while joining: this consumer must not start fetching for nobody.
      await consumer.disconnect().catch(() => undefined);
      return;
    }
    await consumer.run({
      // KAFKA_CONSUMER_CONCURRENCY: the next fetch waits for every partition of the last one, so more workers
      // shorten a fetch cycle, but chunks writing the same rows then queue on each other's locks.
      partitionsConsumedConcurrently: this.settings.consumerConcurrency ?? 3,
      eachBatchAutoResolve: false,
      // Offsets are committed at most every COMMIT_INTERVAL_MS, not after every batch: kafkajs's own autoCommit
      // commits after each batch whatever its interval (2.2.4 runner), an extra broker round trip per message
      // at light load for every group. What a crash leaves uncommitted is redelivered and dropped by the inbox.
      autoCommit: false,
      autoCommitInterval: COMMIT_INTERVAL_MS,
      eachBatch: async (payload) => {
        if (group.consumer === consumer) await this.handleBatch(group, payload);
      },
    });
    if (!group.flushTimer) {
      // The last offsets of a burst are committed once the group is idle, so its lag reads zero.
      group.flushTimer = setInterval(() => void this.commitOffsets(group, false), COMMIT_INTERVAL_MS);
      group.flushTimer.unref();
    }
    this.log.pino.info({ groupId: group.groupId, topics: [...group.handlers.keys()] }, 'consumer group started');
  }

  /** kafkajs restarts what it can; a group it gave up on is restarted here, with backoff (see crashRestartDelayMs). */
  private onCrash(group: Group, consumer: Consumer, { payload }: ConsumerCrash): void {
    if (payload.restart) {
      this.log.pino.warn({ err: payload.error, groupId: group.groupId }, 'consumer crashed; kafkajs restarts it');
      if (!this.closed && group.consumer === consumer) {
        group.selfRestarting = true;
        this.setState(group, { state: 'starting' });
      }
      return;
    }
    if (this.closed || group.consumer !== consumer) return;
    group.crashes = (group.crashes ?? 0) + 1;
    const delayMs = crashRestartDelayMs(group.crashes);
    consumerRestarts.inc({ group: group.groupId });
    this.setState(group, {
      state: 'restarting',
      crashesInARow: group.crashes,
      error: payload.error instanceof Error ? payload.error.message : String(payload.error),
      restartAt: new Date(Date.now() + delayMs).toISOString(),
    });
    this.log.pino.error(
      { err: payload.error, groupId: group.groupId, crashesInARow: group.crashes, restartInMs: delayMs },
      'consumer group stopped and kafkajs will not restart it; restarting it',
    );
    clearTimeout(group.restartTimer);
    group.restartTimer = setTimeout(() => {
      if (this.closed) return;
      void consumer
        .disconnect()
        .catch(() => undefined)
        .then(() => (this.closed ? undefined : this.startGroup(group)))
        .catch((error: unknown) => {
          // Could not even join (Kafka still away): a crash of its own, counted and retried the same way.
          this.onCrash(group, group.consumer ?? consumer, { payload: { error: error as Error, groupId: group.groupId, restart: false } });
        });
    }, delayMs);
    group.restartTimer.unref();
  }

  private async handleBatch(group: Group, payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const topic = batch.topic.slice(this.settings.topicPrefix.length);
    const handler = group.handlers.get(topic);
    if (!handler) return;
    group.offsets = {
      commitOffsetsIfNecessary: (offsets) => payload.commitOffsetsIfNecessary(offsets),
      uncommittedOffsets: () => payload.uncommittedOffsets(),
    };
    const worker = workerKey(topic, batch.partition);
    try {
      for (let i = 0; i < batch.messages.length; i += CHUNK) {
        if (this.closed || !payload.isRunning() || payload.isStale()) return;
        const chunk = batch.messages.slice(i, i + CHUNK);
        group.chunks.set(worker, Date.now());
        await this.applyChunk(group, topic, batch, chunk, handler, payload);
        payload.resolveOffset(chunk[chunk.length - 1].offset);
        // Closing: this chunk finished after close() committed, so commit it now rather than redeliver it.
        if (this.closed) return await this.commitOffsets(group, true);
        await payload.commitOffsetsIfNecessary();
        try {
          await payload.heartbeat();
        } catch (error) {
          // A rebalance: hand over what was applied, as kafkajs's autoCommit did, before the partitions move.
          await this.commitOffsets(group, true);
          throw error;
        }
      }
    } finally {
      group.chunks.delete(worker);
      // Work done is a sign of life: after a long chunk, the next fetch may wait for a rejoin.
      group.lastFetchAt = Date.now();
      if (group.stuckOn === 'chunk') this.unstuck(group);
    }
  }

  /** A sign of life from the chunk a partition worker has in hand (see `Group.chunks`). */
  private progressed(group: Group, worker: string): void {
    if (group.chunks.has(worker)) group.chunks.set(worker, Date.now());
  }

  /** Every few seconds: a running group gone silent is restarted, or declared stuck (see `judgeGroup`). */
  private watch(limitMs: number): void {
    if (this.closed) return;
    const now = Date.now();
    for (const group of this.groups.values()) {
      const verdict = judgeGroup(
        { state: group.state.state, selfRestarting: group.selfRestarting === true, lastFetchAt: group.lastFetchAt, chunksProgressedAt: group.chunks.values() },
        now,
        limitMs,
      );
      if (verdict.action === 'stuck') this.stuck(group, 'chunk', verdict.reason);
      else if (verdict.action === 'restart') void this.restartSilent(group, verdict.reason);
    }
  }

  /**
   * kafkajs stopped fetching and holds nothing of ours: stop that consumer and start a new one in the group. One that
   * does not stop within STOP_LIMIT_MS (kafkajs waits for its own requests) leaves the group stuck.
   */
  private async restartSilent(group: Group, reason: string): Promise<void> {
    const silent = group.consumer;
    consumerWatchdogActions.inc({ group: group.groupId, action: 'restarted' });
    this.log.pino.error({ groupId: group.groupId, reason }, 'consumer group silent; restarting it with a new consumer');
    this.setState(group, { state: 'starting' });
    group.selfRestarting = false;
    group.consumer = undefined; // its late crash or join is no longer this group's
    group.offsets = undefined;
    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([
      (silent?.disconnect() ?? Promise.resolve()).then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), STOP_LIMIT_MS))),
    ]);
    clearTimeout(timer);
    if (this.closed) return;
    if (!stopped) return this.stuck(group, 'stop', `${reason}, and the silent consumer did not stop within ${STOP_LIMIT_MS / 1000} s`);
    group.lastFetchAt = Date.now();
    await this.startGroup(group).catch((error: unknown) => {
      this.onCrash(group, group.consumer as Consumer, { payload: { error: error as Error, groupId: group.groupId, restart: false } });
    });
  }

  private stuck(group: Group, on: 'chunk' | 'stop', reason: string): void {
    group.stuckOn = on;
    consumerWatchdogActions.inc({ group: group.groupId, action: 'stuck' });
    this.setState(group, { state: 'stuck', since: new Date().toISOString(), reason });
    this.log.pino.error(
      { groupId: group.groupId, reason },
      'consumer group stuck: nothing in this process can free it; /health/live answers 503 so the process is replaced',
    );
  }

  /** A chunk the watchdog had given up on finished after all: the group runs again if no other one is overdue. */
  private unstuck(group: Group): void {
    const limitMs = this.settings.watchdogMs ?? 0;
    const now = Date.now();
    if ([...group.chunks.values()].some((at) => now - at > limitMs)) return;
    group.stuckOn = undefined;
    group.lastFetchAt = now;
    this.setState(group, { state: 'running' });
    this.log.pino.warn({ groupId: group.groupId }, 'consumer group no longer stuck: its overdue chunk finished');
  }

  private async applyChunk(
    group: Group,
    topic: string,
    batch: Batch,
    chunk: KafkaMessage[],
    handler: Route,
    payload: EachBatchPayload,
  ): Promise<void> {
    const wanted = handler.subjects || handler.types ? chunk.filter((raw) => !passedOver(handler, raw)) : chunk;
    if (wanted.length < chunk.length) messagesConsumed.inc({ topic, group: group.groupId, outcome: 'passed_over' }, chunk.length - wanted.length);
    // A chunk with nothing for this group costs no transaction at all.
    if (wanted.length === 0) return;
    const parsed = wanted.map((raw) => this.parse(raw));
    const started = process.hrtime.bigint();
    let outcomes: string[] = [];
    let wrote = false;
    const track = (qr: QueryRunner) => (wrote = wrote || this.outbox.wroteIn(qr.manager));
    for (let conflicts = 0; ; conflicts++) {
      try {
        try {
          await this.inTransaction((qr) => this.applyAll(group, topic, batch, parsed, handler, qr, (outcomes = []), false), track);
        } catch (error) {
          if (isDatabaseUnavailable(error) || isTransientConflict(error)) throw error;
          // Some message failed: redo the chunk carefully, one savepoint per message, retrying only the failing one.
          consumerChunkRedos.inc({ group: group.groupId, reason: 'handler_failed' });
          await this.inTransaction(
            (qr) => this.applyAll(group, topic, batch, parsed, handler, qr, (outcomes = []), true, payload),
            track,
          );
        }
        break;
      } catch (error) {
        if (isDatabaseUnavailable(error)) throw error; // kafkajs retries the batch; nothing is dead-lettered
        // Lost a race with a concurrent transaction (deadlock, serialisation): the whole chunk is redone once
        // its locks are gone, with jitter so the two do not collide again. Never the message's fault.
        if (!isTransientConflict(error) || conflicts >= 20) throw error;
        consumerChunkRedos.inc({ group: group.groupId, reason: 'transient_conflict' });
        this.progressed(group, workerKey(topic, batch.partition));
        await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * (conflicts + 1)));
        await payload.heartbeat();
      }
    }
    // Counted after commit, so a chunk that was rolled back and redone is not counted twice.
    for (const outcome of outcomes) messagesConsumed.inc({ topic, group: group.groupId, outcome });
    if (wrote) this.outbox.nudge(); // most consumers of busy topics write nothing for most chunks
    const perMessage = Number(process.hrtime.bigint() - started) / 1e9 / wanted.length;
    messageHandleDuration.observe({ topic, group: group.groupId }, perMessage);
  }

  private async inTransaction(work: (qr: QueryRunner) => Promise<void>, onCommit?: (qr: QueryRunner) => void): Promise<void> {
    const qr = this.dataSource.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction();
      await work(qr);
      await qr.commitTransaction();
      committed(qr.manager);
      onCommit?.(qr);
    } catch (error) {
      rolledBack(qr.manager);
      if (qr.isTransactionActive) await qr.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await qr.release();
    }
  }

  private async applyAll(
    group: Group,
    topic: string,
    batch: Batch,
    parsed: Parsed[],
    route: Route,
    qr: QueryRunner,
    outcomes: string[],
    careful: boolean,
    payload?: EachBatchPayload,
  ): Promise<void> {
    const worker = workerKey(topic, batch.partition);
    const fresh = await this.recordInInbox(group, topic, parsed, qr.manager);
    const seen = new Set<string>();
    const pendingBatch: ConsumedMessage[] = [];
    for (const p of parsed) {
      if (p.problem) {
        if (p.problem.reason === 'unknown_type') {
          // A newer producer's message kind: not ours to fail on.
          outcomes.push('skipped_unknown');
          continue;
        }
        // Malformed: no retry can fix it. Dead-lettered in careful mode only, so it is published once; kept for
        // operators like any other (a schema fixed later lets a redrive apply it).
        if (!careful) throw new Error(`malformed message at offset ${p.raw.offset}: ${p.problem.detail}`);
        await this.deadLetter(group, topic, batch.partition, p.raw, p.problem.detail, 1);
        await this.keep(qr, group, topic, batch.partition, p.raw, malformedLetterId(group.groupId, topic, batch.partition, p.raw), p.problem.detail, 1);
        outcomes.push('dead_lettered');
        continue;
      }
      const envelope = p.envelope as Envelope;
      if (!fresh.has(envelope.id) || seen.has(envelope.id)) {
        outcomes.push('duplicate');
        continue;
      }
      seen.add(envelope.id);
      if (!careful && route.batch) {
        pendingBatch.push(this.toConsumed(p, topic, batch.partition, 1, qr.manager));
        continue;
      }
      if (!careful) {
        await this.invoke(route, this.toConsumed(p, topic, batch.partition, 1, qr.manager), p.raw);
        this.progressed(group, worker);
        outcomes.push('applied');
        continue;
      }
      outcomes.push(await this.applyWithRetries(group, topic, batch.partition, p, route, qr, payload));
    }
    if (pendingBatch.length > 0) {
      const progress = () => this.progressed(group, worker);
      await this.invokeBatch(route.handler, { messages: pendingBatch, manager: qr.manager, progress }, parsed[0].raw);
      for (let i = 0; i < pendingBatch.length; i++) outcomes.push('applied');
    }
  }

  private async applyWithRetries(
    group: Group,
    topic: string,
    partition: number,
    p: Parsed,
    route: Route,
    qr: QueryRunner,
    payload?: EachBatchPayload,
  ): Promise<'applied' | 'dead_lettered'> {
    const envelope = p.envelope as Envelope;
    let lastError: unknown;
    const worker = workerKey(topic, partition);
    for (let attempt = 1; attempt <= this.settings.maxAttempts; attempt++) {
      // Each attempt is progress for the watchdog: a chunk of failing messages retried one by one takes minutes.
      this.progressed(group, worker);
      await qr.query('SAVEPOINT msg');
      try {
        await this.invoke(route, this.toConsumed(p, topic, partition, attempt, qr.manager), p.raw);
        await qr.query('RELEASE SAVEPOINT msg');
        return 'applied';
      } catch (error) {
        await qr.query('ROLLBACK TO SAVEPOINT msg');
        if (isDatabaseUnavailable(error) || isTransientConflict(error)) throw error;
        lastError = error;
        this.log.pino.warn(
          { err: error, messageId: envelope.id, type: envelope.type, attempt, groupId: group.groupId },
          'message handler failed',
        );
        if (attempt < this.settings.maxAttempts) {
          await new Promise((r) => setTimeout(r, this.settings.retryBackoffMs * 2 ** (attempt - 1)));
          await payload?.heartbeat();
        }
      }
    }
    const reason = lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : String(lastError);
    await this.deadLetter(group, topic, partition, p.raw, reason, this.settings.maxAttempts);
    await qr.query(`UPDATE inbox SET outcome = 'dead_lettered' WHERE consumer_group = $1 AND message_id = $2`, [
      group.groupId,
      envelope.id,
    ]);
    await this.keep(qr, group, topic, partition, p.raw, { id: envelope.id, type: envelope.type }, reason, this.settings.maxAttempts);
    return 'dead_lettered';
  }

  /** Keeps a parked message for operators (decision 0021), in the transaction that parks it. */
  private keep(
    qr: QueryRunner,
    group: Group,
    topic: string,
    partition: number,
    raw: KafkaMessage,
    message: { id: string; type: string },
    reason: string,
    attempts: number,
  ): Promise<void> {
    return recordDeadLetter(qr.manager, {
      consumerGroup: group.groupId,
      messageId: message.id,
      topic,
      partition,
      offset: raw.offset,
      messageType: message.type,
      key: raw.key?.toString() ?? null,
      payload: raw.value?.toString() ?? '',
      headers: Object.fromEntries(Object.entries(raw.headers ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, v.toString()]]))),
      reason: reason.slice(0, 2000),
      attempts,
    });
  }

  private async invoke(route: Route, message: ConsumedMessage, raw: KafkaMessage): Promise<void> {
    if (route.batch) return this.invokeBatch(route.handler, { messages: [message], manager: message.manager }, raw);
    const header = (name: string) => raw.headers?.[name]?.toString();
    const ctx = newContext({
      correlationId: message.envelope.correlationId ?? header(Headers.correlationId),
      traceparent: header(Headers.traceparent),
      causationId: message.envelope.id,
    });
    await runWithContext(ctx, () => this.call(route.handler, message));
  }

  /** A batch runs in the context of its first message; handlers that emit per message pass causation explicitly. */
  private async invokeBatch(handler: MessageHandler, consumed: ConsumedBatch, raw: KafkaMessage): Promise<void> {
    const first = consumed.messages[0].envelope;
    const ctx = newContext({
      correlationId: first.correlationId ?? raw.headers?.[Headers.correlationId]?.toString(),
      traceparent: raw.headers?.[Headers.traceparent]?.toString(),
      causationId: consumed.messages.length === 1 ? first.id : undefined,
    });
    await runWithContext(ctx, () => this.call(handler, consumed));
  }

  private async call(handler: MessageHandler, data: unknown): Promise<void> {
    const result: unknown = await handler(data);
    await lastValueFrom(this.transformToObservable(result), { defaultValue: undefined });
  }

  private toConsumed(p: Parsed, topic: string, partition: number, attempt: number, manager: EntityManager): ConsumedMessage {
    const traceparent = p.raw.headers?.[Headers.traceparent]?.toString();
    rememberTraceparent(p.envelope as Envelope, traceparent);
    return {
      envelope: p.envelope as Envelope,
      definition: p.definition as MessageDefinition,
      topic,
      partition,
      offset: p.raw.offset,
      attempt,
      manager,
      traceparent,
    };
  }

  private parse(raw: KafkaMessage): Parsed {
    const result = parseMessage(raw.value, this.settings.extraMessages);
    if (result.ok) return { raw, envelope: result.envelope, definition: result.definition };
    return { raw, problem: { reason: result.reason, detail: result.detail } };
  }

  /** Inserts every valid message id; returns the ids that were new (the rest were applied before). */
  private async recordInInbox(group: Group, topic: string, parsed: Parsed[], manager: EntityManager): Promise<Set<string>> {
    const valid = parsed.filter((p) => p.envelope);
    if (valid.length === 0) return new Set();
    const rows = await manager.query<{ message_id: string }[]>(
      `INSERT INTO inbox (consumer_group, message_id, topic, message_type, outcome)
       SELECT $1, m.id, $2, m.type, 'applied' FROM unnest($3::uuid[], $4::text[]) AS m(id, type)
       ON CONFLICT DO NOTHING RETURNING message_id`,
      [group.groupId, topic, valid.map((p) => p.envelope?.id), valid.map((p) => p.envelope?.type)],
    );
    return new Set(rows.map((r) => r.message_id));
  }

  private async deadLetter(
    group: Group,
    topic: string,
    partition: number,
    raw: KafkaMessage,
    reason: string,
    attempts: number,
  ): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
    Object.assign(headers, {
      [Headers.deadLetterReason]: reason.slice(0, 500),
      [Headers.deadLetterAttempts]: String(attempts),
      [Headers.originalTopic]: topic,
      [Headers.originalPartition]: String(partition),
      [Headers.originalOffset]: raw.offset,
      'dead-letter-group': group.groupId,
    });
    await this.publisher.send([
      { topic: deadLetterTopic(topic), key: raw.key?.toString() ?? '', value: raw.value?.toString() ?? '', headers },
    ]);
    this.log.pino.error({ topic, partition, offset: raw.offset, groupId: group.groupId, reason }, 'message dead-lettered');
  }
}
