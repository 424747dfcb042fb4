import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { NO_JIT } from '../reconciliation/audit.repository';
import { zeroTotals, type LineTotals, type PayoutResult, type PayoutRow } from './payout.model';
import type { PayoutChange, PayoutObservation, PayoutStatus } from './payout-state';

/** A balance transaction of a payout, as Stripe listed it. */
export interface PayoutLine {
  id: string;
  type: string;
  reportingCategory: string | null;
  sourceId: string | null;
  amount: number;
  fee: number;
  net: number;
  currency: string;
  created: Date;
}

/** Comparing a payout of a busy day's transactions may take longer than the 15 s other statements are allowed. */
const LONG_STATEMENT = "SET LOCAL statement_timeout = '10min'";

const COLUMNS = `id, amount, currency, arrival_date, automatic, status, stripe_reconciliation_status, balance_transaction_id,
  failure_code, failure_message, recon_state, attempts, next_attempt_at, last_error, outcome, result, reconciled_at, recorded_at,
  lines_pruned_at`;

/** SQL of payouts (decision 0019): what Stripe said of each, its reconciliation's claim, its copied lines. */
@Injectable()
export class PayoutsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Locks the payout for this transaction, also when it has no row yet: two transactions recording a new payout
   * at once (two deliveries of different events, or the worker's re-read) then go one after the other through the
   * state machine instead of the second overwriting the first on conflict.
   */
  async lock(m: EntityManager, id: string) {
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('payout:' || $1))`, [id]);
    const rows = await m.query<
      { status: PayoutStatus; stripe_reconciliation_status: string | null; recon_state: string; failure_announced: boolean }[]
    >(`SELECT status, stripe_reconciliation_status, recon_state, failure_announced FROM payouts WHERE id = $1 FOR UPDATE`, [id]);
    return rows[0];
  }

  /**
   * Writes an observation that moved the payout: a payout that became paid is due for reconciliation; one that
   * failed or was cancelled before its reconciliation has none (no deposit to match).
   */
  async write(m: EntityManager, o: PayoutObservation, change: PayoutChange, observedAt: Date, failureAnnounced: boolean): Promise<void> {
    const closes = change.becameFailed || change.becameCanceled;
    await m.query(
      `INSERT INTO payouts (id, amount, currency, arrival_date, automatic, status, stripe_reconciliation_status,
         balance_transaction_id, failure_code, failure_message, failure_balance_transaction_id, observed_at, recon_state,
         outcome, failure_announced)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,
               CASE WHEN $13 THEN 'done' WHEN $6 = 'paid' THEN 'due' ELSE 'waiting' END,
               CASE WHEN $13 THEN $6 END, $14)
       ON CONFLICT (id) DO UPDATE SET
         status = $6, stripe_reconciliation_status = $7, arrival_date = $4,
         balance_transaction_id = coalesce($8, payouts.balance_transaction_id),
         failure_code = coalesce($9, payouts.failure_code), failure_message = coalesce($10, payouts.failure_message),
         failure_balance_transaction_id = coalesce($11, payouts.failure_balance_transaction_id),
         observed_at = greatest(payouts.observed_at, $12), updated_at = now(),
         recon_state = CASE WHEN payouts.recon_state = 'done' THEN 'done' WHEN $13 THEN 'done'
                            WHEN $6 = 'paid' THEN 'due' ELSE payouts.recon_state END,
         outcome = CASE WHEN payouts.recon_state <> 'done' AND $13 THEN $6 ELSE payouts.outcome END,
         -- Attributed just now, or just paid: the worker looks at once rather than at its next backoff.
         next_attempt_at = CASE WHEN $15 THEN now() ELSE payouts.next_attempt_at END,
         failure_announced = payouts.failure_announced OR $14`,
      [
        o.id,
        o.amount,
        o.currency,
        o.arrivalDate.toISOString(),
        o.automatic,
        change.status,
        change.reconciliationStatus,
        o.balanceTransactionId,
        o.failureCode,
        o.failureMessage,
        o.failureBalanceTransactionId,
        observedAt.toISOString(),
        closes,
        failureAnnounced,
        change.becamePaid || change.reconciliationStatus === 'completed',
      ],
    );
  }

  /**
   * Claims one due reconciliation with a lease and a fresh run id (or one whose worker died: lease run out). Every
   * later write of the run is guarded by the run id.
   */
  async claim(leaseMs: number): Promise<{ id: string; runId: string; attempts: number; pendingRuns: number } | undefined> {
    const rows = await this.dataSource.query<{ id: string; run_id: string; attempts: number; pending_runs: number }[]>(
      `WITH c AS (
         UPDATE payouts SET run_id = gen_random_uuid(), attempts = attempts + 1,
                lease_until = now() + $1 * interval '1 millisecond'
          WHERE id = (SELECT id FROM payouts
                       WHERE recon_state = 'due' AND next_attempt_at <= now()
                         AND (lease_until IS NULL OR lease_until < now())
                       ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING id, run_id, attempts, pending_runs)
       SELECT * FROM c`,
      [leaseMs],
    );
    return rows[0] ? { id: rows[0].id, runId: rows[0].run_id, attempts: rows[0].attempts, pendingRuns: rows[0].pending_runs } : undefined;
  }

  async renew(id: string, runId: string, leaseMs: number): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      `WITH r AS (UPDATE payouts SET lease_until = now() + $3 * interval '1 millisecond'
                   WHERE id = $1 AND run_id = $2 AND recon_state = 'due' RETURNING id)
       SELECT * FROM r`,
      [id, runId, leaseMs],
    );
    return rows.length === 1;
  }

  /**
   * Gives the claim back, to be tried after `delayMs` (Stripe not ready or away, entries still being written);
   * `pending`: because the platform's lines wait for their entries (counted in `pending_runs`). A run that waited for
   * Stripe's attribution does not push back a payout whose `payout.reconciliation_completed` arrived meanwhile.
   */
  async postpone(id: string, runId: string, delayMs: number, reason: string | null, why: 'attribution' | 'pending' | 'error'): Promise<void> {
    await this.dataSource.query(
      `UPDATE payouts SET lease_until = NULL, last_error = $3,
              pending_runs = pending_runs + CASE WHEN $5 = 'pending' THEN 1 ELSE 0 END,
              next_attempt_at = CASE WHEN $5 = 'attribution' AND stripe_reconciliation_status = 'completed' THEN now()
                                     ELSE now() + $4 * interval '1 millisecond' END
        WHERE id = $1 AND run_id = $2 AND recon_state = 'due'`,
      [id, runId, reason?.slice(0, 500) ?? null, delayMs, why],
    );
  }

  /** Copies a page of the payout's transactions (a page listed again by a later run is one copy). */
  async stage(payoutId: string, lines: PayoutLine[]): Promise<void> {
    if (lines.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO payout_lines (payout_id, txn_id, type, reporting_category, source_id, amount, fee, net, currency, created)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[], $8::bigint[],
                                $9::text[], $10::timestamptz[])
       ON CONFLICT DO NOTHING`,
      [
        payoutId,
        lines.map((l) => l.id),
        lines.map((l) => l.type),
        lines.map((l) => l.reportingCategory),
        lines.map((l) => l.sourceId),
        lines.map((l) => l.amount),
        lines.map((l) => l.fee),
        lines.map((l) => l.net),
        lines.map((l) => l.currency),
        lines.map((l) => l.created.toISOString()),
      ],
    );
  }

  /**
   * Compares the payout's copied lines with the reconciliation entries, in one statement. The payout's own balance
   * transactions (its debit, a failure's credit) are not lines of it. A line is the platform's when an entry names
   * it or its source is a charge, refund or dispute payments knows; such a line without its entry is pending while
   * the reconciliation worker still has its source queued, missing after that. A partial capture's
   * `partial_capture_reversal` (the uncaptured part given back) has no entry of its own: it is the platform's, not
   * missing.
   */
  async compare(payoutId: string, payoutAmount: number, stopWaiting = false): Promise<PayoutResult> {
    const [row] = await this.dataSource.transaction(async (m) => {
      // A payout of a busy day's transactions may take longer than the 15 s every other statement is allowed.
      await m.query(LONG_STATEMENT);
      await m.query(NO_JIT);
      return m.query<Compared[]>(
      `WITH l AS (
         SELECT pl.*, e.entry_id, e.kind,
                (e.entry_id IS NOT NULL
                  OR EXISTS (SELECT 1 FROM reconciliation_sources r WHERE r.source_id = pl.source_id)
                  OR EXISTS (SELECT 1 FROM payments p WHERE p.charge_id = pl.source_id)
                  OR EXISTS (SELECT 1 FROM refunds f WHERE f.refund_id = pl.source_id)) AS ours,
                e.entry_id IS NULL AND EXISTS (SELECT 1 FROM reconciliation_sources r
                                                WHERE r.source_id = pl.source_id AND r.done_at IS NULL) AS queued,
                e.entry_id IS NOT NULL AND (pl.amount, pl.fee, pl.net, pl.currency) IS DISTINCT FROM (e.gross, e.fee, e.net, e.currency)
                  AS differs
           FROM payout_lines pl LEFT JOIN reconciliation_entries e ON e.entry_id = pl.txn_id
          WHERE pl.payout_id = $1 AND pl.source_id IS DISTINCT FROM $1)
       SELECT
         (SELECT json_build_object('count', count(*), 'gross', coalesce(sum(amount), 0), 'fee', coalesce(sum(fee), 0),
                                   'net', coalesce(sum(net), 0)) FROM l) AS lines,
         (SELECT coalesce(json_agg(k), '[]') FROM (
            SELECT coalesce(kind, type) AS kind, count(*) AS count, sum(amount) AS gross, sum(fee) AS fee, sum(net) AS net
              FROM l WHERE ours GROUP BY 1 ORDER BY 1) k) AS platform,
         (SELECT coalesce(json_agg(o), '[]') FROM (
            SELECT type, count(*) AS count, sum(amount) AS gross, sum(fee) AS fee, sum(net) AS net
              FROM l WHERE NOT ours GROUP BY 1 ORDER BY 1) o) AS other,
         (SELECT count(*) FROM l WHERE ours AND entry_id IS NULL AND NOT queued AND type <> 'partial_capture_reversal') AS missing,
         (SELECT count(*) FROM l WHERE queued) AS pending,
         (SELECT count(*) FROM l WHERE differs) AS differs`,
        [payoutId],
      );
    });
    const lines = totals(row.lines);
    const platform = { ...zeroTotals(), byKind: {} as Record<string, LineTotals> };
    for (const k of row.platform) {
      const t = totals(k);
      platform.byKind[k.kind] = t;
      add(platform, t);
    }
    const other = { ...zeroTotals(), byType: {} as Record<string, number> };
    for (const o of row.other) {
      const t = totals(o);
      other.byType[o.type] = t.count;
      add(other, t);
    }
    // Lines still waiting for their entries are pending, unless the worker stops waiting: then they are missing.
    const pending = stopWaiting ? 0 : Number(row.pending);
    const problems = { missing_entry: Number(row.missing) + (stopWaiting ? Number(row.pending) : 0), differs: Number(row.differs) };
    const difference = payoutAmount - lines.net;
    return {
      outcome: problems.missing_entry + problems.differs + pending > 0 || difference !== 0 ? 'mismatches' : 'balanced',
      lines,
      platform,
      other,
      difference,
      problems,
      pending,
    };
  }

  /** Writes the run's result, if it still holds its claim; false if it lost it (taken over, or the payout failed). */
  async finish(m: EntityManager, id: string, runId: string, result: PayoutResult): Promise<boolean> {
    const rows = await m.query<unknown[]>(
      `WITH f AS (
         UPDATE payouts SET recon_state = 'done', lease_until = NULL, outcome = $3, result = $4::jsonb,
                reconciled_at = now(), last_error = NULL, updated_at = now()
          WHERE id = $1 AND run_id = $2 AND recon_state = 'due' RETURNING id)
       SELECT * FROM f`,
      [id, runId, result.outcome, JSON.stringify(result)],
    );
    return rows.length === 1;
  }

  /** Paid payouts not reconciled a day after they were recorded: Stripe never attributed them, or it keeps refusing. */
  async overdue(): Promise<number> {
    const [row] = await this.dataSource.query<{ n: string }[]>(
      `SELECT count(*) AS n FROM payouts WHERE recon_state = 'due' AND recorded_at < now() - interval '1 day'`,
    );
    return Number(row.n);
  }

  async get(id: string): Promise<PayoutRow | undefined> {
    const rows = await this.dataSource.query<PayoutRow[]>(`SELECT ${COLUMNS} FROM payouts WHERE id = $1`, [id]);
    return rows[0];
  }

  /** Newest arrival first, keyset-paged by (arrival date, id). */
  async list(limit: number, after?: { arrivalDate: string; id: string }, filter: { currency?: string; status?: string } = {}) {
    const params: unknown[] = [];
    const where: string[] = [];
    if (filter.currency) where.push(`currency = $${params.push(filter.currency)}`);
    if (filter.status) where.push(`status = $${params.push(filter.status)}`);
    if (after) where.push(`(arrival_date, id) < ($${params.push(after.arrivalDate)}::timestamptz, $${params.push(after.id)})`);
    return this.dataSource.query<PayoutRow[]>(
      `SELECT ${COLUMNS} FROM payouts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY arrival_date DESC, id DESC LIMIT $${params.push(limit)}`,
      params,
    );
  }

  /** A payout's lines in balance-transaction order, each with the entry (order, channel, store) that names it. */
  /**
   * Deletes the copied lines of one payout whose reconciliation (or failure) is older than `keepMs`, and marks it;
   * undefined when none is due. A payout's lines go all at once, so the lines API never shows part of them.
   */
  async pruneLines(keepMs: number): Promise<{ payoutId: string; lines: number } | undefined> {
    return this.dataSource.transaction(async (m) => {
      const [due] = await m.query<{ id: string }[]>(
        `SELECT id FROM payouts
          WHERE recon_state = 'done' AND lines_pruned_at IS NULL
            AND COALESCE(reconciled_at, updated_at) < now() - $1 * interval '1 millisecond'
          ORDER BY COALESCE(reconciled_at, updated_at) LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [keepMs],
      );
      if (!due) return undefined;
      // TypeORM answers a DELETE with [rows, affected count].
      const [, deleted] = await m.query<[unknown[], number]>(`DELETE FROM payout_lines WHERE payout_id = $1`, [due.id]);
      await m.query(`UPDATE payouts SET lines_pruned_at = now() WHERE id = $1`, [due.id]);
      return { payoutId: due.id, lines: deleted };
    });
  }

  async lines(payoutId: string, limit: number, afterTxnId?: string) {
    const params: unknown[] = [payoutId];
    const after = afterTxnId ? ` AND pl.txn_id > $${params.push(afterTxnId)}` : '';
    return this.dataSource.query<Record<string, unknown>[]>(
      `SELECT pl.txn_id, pl.type, pl.reporting_category, pl.source_id, pl.amount, pl.fee, pl.net, pl.currency, pl.created,
              e.entry_id, e.kind, e.order_id, e.payment_intent_id, e.channel, e.store_id
         FROM payout_lines pl LEFT JOIN reconciliation_entries e ON e.entry_id = pl.txn_id
        WHERE pl.payout_id = $1 AND pl.source_id IS DISTINCT FROM $1${after}
        ORDER BY pl.txn_id LIMIT $${params.push(limit)}`,
      params,
    );
  }
}

interface Compared {
  lines: { count: number; gross: number; fee: number; net: number };
  platform: { kind: string; count: number; gross: number; fee: number; net: number }[];
  other: { type: string; count: number; gross: number; fee: number; net: number }[];
  missing: string;
  pending: string;
  differs: string;
}

const totals = (t: { count: unknown; gross: unknown; fee: unknown; net: unknown }): LineTotals => ({
  count: Number(t.count),
  gross: Number(t.gross),
  fee: Number(t.fee),
  net: Number(t.net),
});

function add(into: LineTotals, t: LineTotals): void {
  into.count += t.count;
  into.gross += t.gross;
  into.fee += t.fee;
  into.net += t.net;
}
