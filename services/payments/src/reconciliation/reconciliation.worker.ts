import { Inject, Injectable } from '@nestjs/common';
import { ReconciliationEntry, type DataOf } from '@omnipay/contracts';
import { OutboxService, UnitOfWork } from '@omnipay/messaging';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { APP_CONFIG, PolledWorker } from '@omnipay/platform';
import { STRIPE } from '@omnipay/stripe';
import { Counter } from 'prom-client';
import type Stripe from 'stripe';
import { DataSource, type EntityManager } from 'typeorm';
import { deterministicUuid } from '../common/ids';
import type { PaymentsConfig } from '../config';

/** A dispute that has moved all the funds it will (`warning_closed` is an inquiry's end, covered by `warning_*`). */
const ENDED_DISPUTE: ReadonlySet<string> = new Set(['won', 'lost', 'prevented']);

interface SourceRow {
  source_id: string;
  kind: 'charge' | 'refund' | 'dispute';
  payment_id: string;
  attempts: number;
  /** bumped by every reopen; the pass writes its outcome only onto the generation it claimed */
  generation: number;
}

/** The payment columns an entry carries. */
interface PaymentRef {
  id: string;
  orderId: string;
  paymentIntentId: string | null;
  channel: string;
  storeId: string | null;
}

type Txn = Stripe.BalanceTransaction;
type EntryData = DataOf<typeof ReconciliationEntry>;
interface Entry {
  data: EntryData;
  paymentId: string;
}

/** What one claimed source came to in a pass: its entries (possibly already written), or try again later. */
type Outcome = { row: SourceRow; entries: Entry[] } | { row: SourceRow; retry: string };
type Ready = Extract<Outcome, { entries: Entry[] }>;
type Retry = Extract<Outcome, { retry: string }>;

const BATCH = 20;

type Updated = [{ source_id: string }[], number] | { source_id: string }[];

const entriesWritten = new Counter({
  name: 'payments_reconciliation_entries_total',
  help: 'Reconciliation entries written, by kind',
  labelNames: ['kind'],
  registers: [metricsRegistry],
});

const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * Turns charges, refunds and disputes into reconciliation entries from Stripe's balance transactions. It runs
 * outside the consumer: fetching from Stripe inside the inbox transaction would hold it open for a network call
 * and dead-letter events during a Stripe hiccup, and an `automatic_async` charge has no balance transaction
 * yet when it succeeds (it comes with `charge.updated`). So sources are queued and retried with backoff here.
 *
 * A pass is set-based: one claim, one payments read, the Stripe reads side by side, then one transaction for
 * every claimed source (a statement per table, not per charge: PostgreSQL's cost per event is what limits
 * throughput). If that transaction fails, the pass falls back to a transaction per source, so one bad source
 * is retried on its own instead of holding back the rest.
 *
 * A Stripe event can reopen a source (a dispute gains a balance transaction) while a pass is reading it. The
 * pass then read Stripe before the reopen, so it marks a source done, or puts it back, only at the generation
 * it claimed: a source reopened meanwhile stays due with its fresh start, and the next pass reads it again.
 */
@Injectable()
export class ReconciliationWorker extends PolledWorker {
  constructor(
    private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly outboxService: OutboxService,
    private readonly logger: JsonLogger,
    @Inject(STRIPE) private readonly stripe: Stripe,
    @Inject(APP_CONFIG) private readonly config: PaymentsConfig,
  ) {
    super({ name: 'reconciliation', intervalMs: config.RECONCILIATION_POLL_MS, logger });
  }

  protected async pass(): Promise<boolean> {
    return (await this.runOnce()) === BATCH;
  }

  /** One pass over due sources; returns how many were claimed. */
  async runOnce(): Promise<number> {
    // Claim with a lease so replicas share the work and a crashed one's claims come back.
    const claimed = await this.dataSource.query<[SourceRow[], number] | SourceRow[]>(
      `UPDATE reconciliation_sources SET next_attempt_at = now() + ${this.config.RECONCILIATION_LEASE_MS} * interval '1 millisecond'
        WHERE source_id IN (SELECT source_id FROM reconciliation_sources
                             WHERE done_at IS NULL AND next_attempt_at <= now()
                             ORDER BY next_attempt_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
        RETURNING source_id, kind, payment_id, attempts, generation`,
    );
    const rows = (Array.isArray(claimed[0]) ? claimed[0] : claimed) as SourceRow[];
    if (rows.length === 0) return 0;
    const outcomes = await this.outcomes(rows);
    const ready = outcomes.filter((o): o is Ready => 'entries' in o);
    const retry = outcomes.filter((o): o is Retry => 'retry' in o);
    try {
      await this.apply(ready, retry);
    } catch (error) {
      this.logger.pino.warn(
        { err: error, sources: rows.length },
        'reconciliation batch failed; applying its sources one by one',
      );
      await Promise.all([
        ...ready.map(async (o) => {
          try {
            await this.apply([o], []);
          } catch (e) {
            await this.retryLater(this.dataSource.manager, [{ row: o.row, retry: message(e) }]);
          }
        }),
        ...retry.map((o) => this.retryLater(this.dataSource.manager, [o])),
      ]);
    }
    return rows.length;
  }

  /** Reads the claimed sources' payments (one statement) and their balance transactions from Stripe. */
  private async outcomes(rows: SourceRow[]): Promise<Outcome[]> {
    let payments: Map<string, PaymentRef>;
    try {
      payments = await this.payments([...new Set(rows.map((r) => r.payment_id))]);
    } catch (error) {
      return rows.map((row) => ({ row, retry: message(error) }));
    }
    return Promise.all(
      rows.map(async (row): Promise<Outcome> => {
        try {
          const payment = payments.get(row.payment_id);
          if (!payment) throw new Error(`payment ${row.payment_id} not found`);
          const found = await this.balanceTransactions(row);
          if (found === 'not_yet') return { row, retry: 'balance transaction not available yet' };
          return { row, entries: found.map((f) => entry(payment, row, f.txn, f.chargeId)) };
        } catch (error) {
          return { row, retry: message(error) };
        }
      }),
    );
  }

  private async payments(ids: string[]): Promise<Map<string, PaymentRef>> {
    const rows = await this.dataSource.query<Record<string, unknown>[]>(
      'SELECT id, order_id, payment_intent_id, channel, store_id FROM payments WHERE id = ANY($1::text[])',
      [ids],
    );
    return new Map(
      rows.map((r) => [
        String(r.id),
        {
          id: String(r.id),
          orderId: String(r.order_id),
          paymentIntentId: r.payment_intent_id === null ? null : String(r.payment_intent_id as string),
          channel: String(r.channel),
          storeId: r.store_id === null ? null : String(r.store_id as string),
        },
      ]),
    );
  }

  private async balanceTransactions(
    row: SourceRow,
  ): Promise<{ txn: Txn; chargeId: string | null }[] | 'not_yet'> {
    switch (row.kind) {
      case 'charge': {
        const ch = await this.stripe.charges.retrieve(row.source_id, { expand: ['balance_transaction'] });
        if (!ch.balance_transaction || typeof ch.balance_transaction === 'string') return 'not_yet';
        return [{ txn: ch.balance_transaction, chargeId: ch.id }];
      }
      case 'refund': {
        // (The emulator refuses to expand a null failure_balance_transaction, so that one is fetched by id.)
        const re = await this.stripe.refunds.retrieve(row.source_id, { expand: ['balance_transaction'] });
        // A refund that ended (failed, canceled) without ever moving money has nothing to reconcile: done, not a
        // source retried for ever.
        if (!re.balance_transaction && (re.status === 'failed' || re.status === 'canceled')) return [];
        const chargeId = typeof re.charge === 'string' ? re.charge : (re.charge?.id ?? null);
        // On API versions before 2025-03-31.basil, cancelling an authorisation made a "refund" of it, which moved no
        // money and never gets a balance transaction: done, not a source retried for ever.
        if (!re.balance_transaction && chargeId && !(await this.stripe.charges.retrieve(chargeId)).captured) return [];
        if (!re.balance_transaction || typeof re.balance_transaction === 'string') return 'not_yet';
        const out = [{ txn: re.balance_transaction, chargeId }];
        // A refund that failed after succeeding gives the money back: its own balance transaction.
        const failure = re.failure_balance_transaction;
        if (failure)
          out.push({
            txn:
              typeof failure === 'string' ? await this.stripe.balanceTransactions.retrieve(failure) : failure,
            chargeId,
          });
        return out;
      }
      case 'dispute': {
        const dp = await this.stripe.disputes.retrieve(row.source_id, { expand: ['balance_transactions'] });
        const chargeId = typeof dp.charge === 'string' ? dp.charge : dp.charge.id;
        // An inquiry (`warning_*`) never moves funds, and a closed dispute has moved all it will: with no balance
        // transactions, it is done (its next event reopens it) instead of being read from Stripe every 5 minutes for ever.
        if (!dp.balance_transactions?.length) return dp.status.startsWith('warning_') || ENDED_DISPUTE.has(dp.status) ? [] : 'not_yet';
        return dp.balance_transactions.map((txn) => ({ txn, chargeId }));
      }
    }
  }

  /**
   * One transaction: the entries not written yet, their messages, the ready sources marked done and the others
   * put back with their backoff. Metrics and logs follow the commit, so a failed batch redone source by source
   * counts nothing twice.
   */
  private async apply(ready: Ready[], retry: Retry[]): Promise<void> {
    const { written, done, retried } = await this.uow.run(async (m) => {
      // Entries are facts whatever the generation: what was read is written even if the source was reopened.
      const written = await this.write(
        m,
        ready.flatMap((o) => o.entries),
      );
      const done = await this.markDone(m, ready);
      const retried = await this.markRetry(m, retry);
      return { written, done, retried };
    });
    for (const e of written) entriesWritten.inc({ kind: e.data.kind });
    this.noteReopened([
      ...ready.filter((o) => !done.has(o.row.source_id)),
      ...retry.filter((o) => !retried.has(o.row.source_id)),
    ]);
    this.warnStillPending(retry.filter((o) => retried.has(o.row.source_id)));
  }

  /** Marks the sources done, those still at their claimed generation; returns which were. */
  private async markDone(m: EntityManager, ready: Ready[]): Promise<Set<string>> {
    if (ready.length === 0) return new Set();
    const rows = ready
      .map((o) => o.row)
      .sort((a, b) => (a.source_id < b.source_id ? -1 : a.source_id > b.source_id ? 1 : 0));
    return this.updated(
      await m.query<Updated>(
        `UPDATE reconciliation_sources s SET done_at = now(), last_error = NULL
           FROM unnest($1::text[], $2::int[]) AS v(source_id, generation)
          WHERE s.source_id = v.source_id AND s.generation = v.generation
          RETURNING s.source_id`,
        [rows.map((r) => r.source_id), rows.map((r) => r.generation)],
      ),
    );
  }

  /** TypeORM answers an UPDATE … RETURNING with [rows, count]. */
  private updated(result: Updated): Set<string> {
    const rows = (Array.isArray(result[0]) ? result[0] : result) as { source_id: string }[];
    return new Set(rows.map((r) => r.source_id));
  }

  /** Sources reopened during their pass: left as the reopen set them (due now), for the next pass. */
  private noteReopened(stale: Outcome[]): void {
    if (stale.length === 0) return;
    this.logger.pino.info(
      {
        sources: stale.map((o) => ({
          sourceId: o.row.source_id,
          kind: o.row.kind,
          generation: o.row.generation,
        })),
      },
      'reconciliation sources reopened during their pass; they stay due',
    );
  }

  /** Inserts the entries (one per balance transaction, whatever happens) and queues a message for each new one. */
  private async write(m: EntityManager, entries: Entry[]): Promise<Entry[]> {
    // The same balance transaction twice in a pass is one entry: the first, as one-by-one inserts would keep.
    const seen = new Set<string>();
    const unique = entries.filter((e) => !seen.has(e.data.entryId) && seen.add(e.data.entryId));
    if (unique.length === 0) return [];
    // Rows go in key order so concurrent passes lock them in the same order.
    const rows = [...unique].sort((a, b) =>
      a.data.entryId < b.data.entryId ? -1 : a.data.entryId > b.data.entryId ? 1 : 0,
    );
    const col = <T>(f: (e: Entry) => T): T[] => rows.map(f);
    const inserted = await m.query<{ entry_id: string }[]>(
      `INSERT INTO reconciliation_entries (entry_id, kind, order_id, payment_id, payment_intent_id, charge_id, source_id,
         balance_transaction_id, channel, store_id, gross, fee, net, currency, occurred_at, available_on)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
         $8::text[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[],
         $15::timestamptz[], $16::timestamptz[])
       ON CONFLICT (entry_id) DO NOTHING RETURNING entry_id`,
      [
        col((e) => e.data.entryId),
        col((e) => e.data.kind),
        col((e) => e.data.orderId),
        col((e) => e.paymentId),
        col((e) => e.data.paymentIntentId),
        col((e) => e.data.chargeId),
        col((e) => e.data.sourceId),
        col((e) => e.data.balanceTransactionId),
        col((e) => e.data.channel),
        col((e) => e.data.storeId),
        col((e) => e.data.gross),
        col((e) => e.data.fee),
        col((e) => e.data.net),
        col((e) => e.data.currency),
        col((e) => e.data.occurredAt),
        col((e) => e.data.availableOn),
      ],
    );
    const fresh = new Set(inserted.map((r) => r.entry_id));
    const written = unique.filter((e) => fresh.has(e.data.entryId));
    // One message per balance transaction, whatever happens: a re-publication dedups on the derived id.
    await this.outboxService.addMany(
      m,
      written.map((e) => ({
        definition: ReconciliationEntry,
        data: e.data,
        opts: { id: deterministicUuid(`recon:${e.data.entryId}`) },
      })),
    );
    return written;
  }

  /** Outside the batch: put sources back on their own (the batch that would have carried them failed). */
  private async retryLater(m: EntityManager, retry: Retry[]): Promise<void> {
    const retried = await this.markRetry(m, retry);
    this.noteReopened(retry.filter((o) => !retried.has(o.row.source_id)));
    this.warnStillPending(retry.filter((o) => retried.has(o.row.source_id)));
  }

  /**
   * Puts the sources back with their backoff, those still at their claimed generation (a reopened one keeps
   * the reopen's fresh start: due now, no attempt counted); returns which were.
   */
  private async markRetry(m: EntityManager, retry: Retry[]): Promise<Set<string>> {
    if (retry.length === 0) return new Set();
    return this.updated(
      await m.query<Updated>(
        `UPDATE reconciliation_sources s SET attempts = s.attempts + 1, last_error = v.reason,
                next_attempt_at = now() + v.delay_ms * interval '1 millisecond'
           FROM unnest($1::text[], $2::int[], $3::text[], $4::int[]) AS v(source_id, generation, reason, delay_ms)
          WHERE s.source_id = v.source_id AND s.generation = v.generation
          RETURNING s.source_id`,
        [
          retry.map((o) => o.row.source_id),
          retry.map((o) => o.row.generation),
          retry.map((o) => o.retry.slice(0, 500)),
          // 100 ms doubling to 5 min: an automatic_async charge is usually ready within a second.
          retry.map((o) => Math.min(300_000, 100 * 2 ** Math.min(o.row.attempts, 12))),
        ],
      ),
    );
  }

  private warnStillPending(retry: Retry[]): void {
    for (const { row, retry: reason } of retry) {
      if (row.attempts >= 8 && row.attempts % 4 === 0) {
        this.logger.pino.warn(
          { sourceId: row.source_id, kind: row.kind, attempts: row.attempts + 1, reason },
          'reconciliation source still pending',
        );
      }
    }
  }
}

function entry(p: PaymentRef, row: SourceRow, txn: Txn, chargeId: string | null): Entry {
  const data = {
    entryId: txn.id,
    kind: row.kind,
    orderId: p.orderId,
    paymentIntentId: p.paymentIntentId as string,
    chargeId,
    sourceId: row.source_id,
    balanceTransactionId: txn.id,
    channel: p.channel,
    storeId: p.storeId,
    gross: txn.amount,
    fee: txn.fee,
    net: txn.net,
    currency: txn.currency,
    occurredAt: new Date(txn.created * 1000).toISOString(),
    availableOn: new Date(txn.available_on * 1000).toISOString(),
  } as EntryData;
  return { data, paymentId: p.id };
}
