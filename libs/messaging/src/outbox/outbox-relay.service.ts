import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { JsonLogger, outboxLag, outboxPublished } from '@omnipay/observability';
import type { Pool, QueryResult } from 'pg';
import { DataSource } from 'typeorm';
import { KafkaPublisher } from '../kafka/publisher';
import { MESSAGING_SETTINGS, type MessagingSettings } from '../messaging.settings';
import { OutboxService } from './outbox.service';

interface OutboxRow {
  seq: string;
  topic: string;
  key: string;
  payload: string;
  headers: Record<string, string>;
  created_at: Date;
}

const BATCH = 500;
/** How soon a relay tries again while another replica's pass holds the schema's relay lock. */
const BUSY_RETRY_MS = 10;

/** The advisory lock of one schema's relay (locks are database-wide; each service has its own schema). */
const RELAY_LOCK = `hashtext('outbox-relay:' || current_schema())`;

/** bigint sequence numbers arrive as decimal strings. */
function compareSeq(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * Publishes committed outbox rows in order of commit, in batches, and marks them sent in the same transaction
 * that locked them. If Kafka is down the transaction rolls back and the rows wait; if the process dies after
 * Kafka acknowledged but before the mark committed, the rows are sent again and consumers' inboxes drop the
 * copies (at-least-once out, exactly-once in effect).
 *
 * One pass at a time per schema, whatever the number of replicas (an advisory lock held by the pass's
 * transaction): two replicas sending two batches at once could put a later event of a key on Kafka before an
 * earlier one, or a failed batch could be sent again after a newer batch of another replica had gone through.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private running = false;
  private stopped = false;
  private wake?: () => void;
  private pending = false;
  private loop?: Promise<void>;
  private unsubscribe?: () => void;
  private failures = 0;
  /** The last pass found another replica's pass under way. */
  private busy = false;
  private busyPasses = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly publisher: KafkaPublisher,
    private readonly outbox: OutboxService,
    private readonly logger: JsonLogger,
    @Inject(MESSAGING_SETTINGS) private readonly settings: MessagingSettings,
  ) {}

  /** TypeORM's own pg pool: the relay's connections count against the same DB_POOL_SIZE. */
  private get pool(): Pool {
    return (this.dataSource.driver as unknown as { master: Pool }).master;
  }

  onApplicationBootstrap(): void {
    if (!this.settings.relayEnabled) {
      this.logger.warn('outbox relay disabled (OUTBOX_RELAY_ENABLED=false): events stay in the outbox', 'OutboxRelay');
      return;
    }
    this.unsubscribe = this.outbox.onNudge(() => this.trigger());
    this.running = true;
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.trigger();
    await this.loop;
  }

  private trigger(): void {
    this.pending = true;
    this.wake?.();
  }

  private async run(): Promise<void> {
    // A pass the poll timer started (not a commit's nudge, not start-up, not a retry after a failure) first looks
    // for work outside a transaction: one statement instead of three while idle, which is most of the time.
    let polled = false;
    while (!this.stopped) {
      const look = polled && !this.pending;
      polled = false;
      this.pending = false;
      let published = 0;
      try {
        published = look && !(await this.hasUnpublished()) ? 0 : await this.publishBatch();
        this.failures = 0;
      } catch (error) {
        this.failures++;
        // Logged once per outage, then every 20th failure: a Kafka outage must not flood the logs.
        if (this.failures === 1 || this.failures % 20 === 0) {
          this.logger.pino.warn({ err: error, failures: this.failures }, 'outbox relay could not publish; will retry');
        }
      }
      if (published === BATCH) continue;
      const linger = this.settings.relayLingerMs ?? 0;
      this.busyPasses = this.busy ? this.busyPasses + 1 : 0;
      if (this.busy && this.failures === 0) {
        // Our rows may be newer than that pass's claim: look again soon rather than at the next poll (backing off
        // up to the poll interval while that pass lasts, e.g. a send waiting for Kafka).
        const wait = Math.min(this.settings.relayPollMs, BUSY_RETRY_MS * 2 ** Math.min(this.busyPasses - 1, 5));
        await new Promise((r) => setTimeout(r, Math.max(linger, wait)));
        continue;
      }
      if (this.pending && this.failures === 0) {
        if (linger > 0) await new Promise((r) => setTimeout(r, linger));
        continue;
      }
      const delay = this.failures > 0 ? Math.min(5000, 100 * 2 ** Math.min(this.failures, 6)) : this.settings.relayPollMs;
      polled = this.failures === 0; // unless a commit wakes it first
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = undefined;
          if (linger > 0 && !this.stopped) setTimeout(resolve, linger);
          else resolve();
        };
      });
      this.wake = undefined;
    }
    this.running = false;
  }

  /** Whether any row waits (the partial index on unpublished rows makes this one index probe). */
  private async hasUnpublished(): Promise<boolean> {
    const [row] = await this.dataSource.query<{ waiting: boolean }[]>(
      'SELECT EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL) AS waiting',
    );
    return row.waiting;
  }

  /**
   * Publishes up to one batch; returns how many rows were sent (0 also when another replica's pass is under way).
   * On a client of its own from the pool, because the transaction's BEGIN, the relay lock and the claim go as one
   * simple query (one round trip fewer per pass than a query runner's START TRANSACTION; it has no parameters).
   */
  async publishBatch(): Promise<number> {
    const client = await this.pool.connect();
    let open = false;
    let broken: Error | undefined;
    // A checked-out pg client has no error listener of the pool's any more: without one, the connection dying
    // while the batch is being sent (database restart, idle-in-transaction timeout) would be an uncaught 'error'
    // event that ends the process. The query under way fails on its own; the client is then discarded.
    const onError = (error: Error) => (broken ??= error);
    client.on('error', onError);
    try {
      open = true;
      // One statement claims and marks the batch, only while this transaction holds the relay lock (taken again by
      // the claim: it is re-entrant, and the claim must not run without it); the mark only holds if the transaction
      // commits after Kafka acknowledged (a failed send rolls it back).
      const results = (await client.query(
        `BEGIN;
         SELECT pg_try_advisory_xact_lock(${RELAY_LOCK}) AS leader;
         UPDATE outbox SET published_at = clock_timestamp()
          WHERE (SELECT pg_try_advisory_xact_lock(${RELAY_LOCK}))
            AND seq IN (SELECT seq FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
          RETURNING seq, topic, key, payload, headers, created_at`,
      )) as unknown as [QueryResult, QueryResult<{ leader: boolean }>, QueryResult<OutboxRow>];
      this.busy = !results[1].rows[0]?.leader;
      // RETURNING does not keep the subquery's order; commit order (seq) is what keys rely on.
      const rows = results[2].rows.sort((a, b) => compareSeq(a.seq, b.seq));
      if (rows.length > 0) {
        await this.publisher.send(rows.map((r) => ({ topic: r.topic, key: r.key, value: r.payload, headers: r.headers })));
      }
      await client.query('COMMIT');
      open = false;
      const now = Date.now();
      for (const r of rows) {
        outboxPublished.inc({ topic: r.topic });
        outboxLag.observe((now - new Date(r.created_at).getTime()) / 1000);
      }
      return rows.length;
    } catch (error) {
      if (open) {
        // A connection that cannot even roll back is not handed back to the pool.
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      }
      throw error;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  get isRunning(): boolean {
    return this.running;
  }
}
