import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  AUDIT_PROBLEMS,
  type AuditLine,
  type AuditProblem,
  type AuditResult,
  type AuditRow,
  type CurrencyTotals,
  type StripeTxn,
  type Totals,
} from './audit.model';
import { dayBounds } from './utc-day';

/** Lines of detail kept in a result; the counts cover every line. */
export const MAX_DETAIL_LINES = 200;

/**
 * The comparison and the clean-up of a busy day's copy may take longer than the 15 s every other statement of the
 * service is allowed; they run in the background, on one connection, once a day.
 */
const LONG_STATEMENT = "SET LOCAL statement_timeout = '10min'";

/**
 * The comparison's estimated cost (CTEs the planner cannot size) is far above PostgreSQL's JIT thresholds, and
 * compiling its ~170 expressions took ~3 s of a 3.2 s run on a 5,000-line day, whose execution took 0.2 s
 * (`EXPLAIN ANALYZE`, bench/README "Payouts"): it runs once, so compiling never pays back.
 */
export const NO_JIT = 'SET LOCAL jit = off';

/** `day` as text: node-postgres would read a date as local midnight. */
const COLUMNS = `to_char(day, 'YYYY-MM-DD') AS day, status, requested_at, requested_by, run_id, runs, attempts, started_at,
  finished_at, next_attempt_at, outcome, result, last_error, rerun_requested`;

const zero = (): Totals => ({ count: 0, gross: 0, fee: 0, net: 0 });

/** SQL of the daily audit: requests and claims of `reconciliation_audits`, Stripe's copied list, the comparison. */
@Injectable()
export class AuditRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Asks for a day's audit: a new day, or a finished one to run again. A day running now runs once more when this
   * run ends (what was asked for may have been fixed after the run read it); one already asked for is left as is.
   */
  async request(day: string, by: string): Promise<AuditRow> {
    const rows = await this.dataSource.query<AuditRow[]>(
      `WITH up AS (
         INSERT INTO reconciliation_audits (day, status, requested_by) VALUES ($1, 'requested', $2)
         ON CONFLICT (day) DO UPDATE SET
           status = CASE WHEN reconciliation_audits.status = 'running' THEN 'running' ELSE 'requested' END,
           rerun_requested = reconciliation_audits.status = 'running',
           requested_at = now(), requested_by = $2, attempts = 0, next_attempt_at = now(), last_error = NULL
         WHERE reconciliation_audits.status <> 'requested'
         RETURNING ${COLUMNS})
       SELECT * FROM up
       UNION ALL SELECT ${COLUMNS} FROM reconciliation_audits WHERE day = $1 AND NOT EXISTS (SELECT 1 FROM up)`,
      [day, by],
    );
    // Empty only if a concurrent first request inserted the day after this statement's snapshot: read it now.
    return rows[0] ?? (await this.get(day))!;
  }

  /**
   * The scheduled audit of a finished day: asked for once it is due, and again if the day's last run started
   * before it was due (a snapshot taken during the day, or a run before the worker had written the day's entries).
   */
  async schedule(day: string, dueAt: Date): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO reconciliation_audits (day, status, requested_by) VALUES ($1, 'requested', 'schedule')
       ON CONFLICT (day) DO UPDATE SET status = 'requested', requested_at = now(), requested_by = 'schedule',
         attempts = 0, next_attempt_at = now(), last_error = NULL
       WHERE reconciliation_audits.status = 'done' AND reconciliation_audits.started_at < $2`,
      [day, dueAt.toISOString()],
    );
  }

  /**
   * Runs again, an hour after it finished, a recent day whose audit only found lines still pending (the
   * reconciliation worker was retrying their sources): until they are written, or found missing.
   */
  async requeuePending(days: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE reconciliation_audits SET status = 'requested', requested_at = now(), requested_by = 'schedule',
              attempts = 0, next_attempt_at = now()
        WHERE status = 'done' AND outcome = 'pending' AND finished_at < now() - interval '1 hour'
          AND day >= current_date - $1::int`,
      [days],
    );
  }

  async get(day: string): Promise<AuditRow | undefined> {
    const rows = await this.dataSource.query<AuditRow[]>(
      `SELECT ${COLUMNS} FROM reconciliation_audits WHERE day = $1`,
      [day],
    );
    return rows[0];
  }

  /** Problems found by the latest audit of a whole day, for the metric every replica exports alike. */
  async latestCompleteProblems(): Promise<Record<AuditProblem, number> | undefined> {
    const rows = await this.dataSource.query<{ problems: Record<AuditProblem, number> }[]>(
      `SELECT result->'problems' AS problems FROM reconciliation_audits
        WHERE result IS NOT NULL AND (result->>'dayComplete')::boolean ORDER BY day DESC LIMIT 1`,
    );
    return rows[0]?.problems;
  }

  /**
   * Claims one due audit with a lease and a fresh run id: asked for, failed and due again, or running with its
   * lease run out (its worker died). Every later write of the run is guarded by the run id.
   */
  async claim(leaseMs: number): Promise<{ day: string; runId: string; attempts: number } | undefined> {
    const rows = await this.dataSource.query<{ day: string; run_id: string; attempts: number }[]>(
      `WITH c AS (
         UPDATE reconciliation_audits SET status = 'running', run_id = gen_random_uuid(), attempts = attempts + 1,
                started_at = now(), lease_until = now() + $1 * interval '1 millisecond'
          WHERE day = (SELECT day FROM reconciliation_audits
                        WHERE (status IN ('requested', 'failed') AND next_attempt_at <= now())
                           OR (status = 'running' AND lease_until < now())
                        ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING to_char(day, 'YYYY-MM-DD') AS day, run_id, attempts)
       SELECT * FROM c`,
      [leaseMs],
    );
    return rows[0] ? { day: rows[0].day, runId: rows[0].run_id, attempts: rows[0].attempts } : undefined;
  }

  /** Extends the run's lease; false when the run lost its claim (another worker took the day over). */
  async renew(day: string, runId: string, leaseMs: number): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      `WITH r AS (
         UPDATE reconciliation_audits SET lease_until = now() + $3 * interval '1 millisecond'
          WHERE day = $1 AND run_id = $2 AND status = 'running' RETURNING day)
       SELECT * FROM r`,
      [day, runId, leaseMs],
    );
    return rows.length === 1;
  }

  /** Copies a page of Stripe's list for the run (a repeated page is one copy). */
  async stage(runId: string, txns: StripeTxn[]): Promise<void> {
    if (txns.length === 0) return;
    await this.dataSource.query(
      `INSERT INTO reconciliation_audit_stripe_txns
         (run_id, txn_id, source_id, type, amount, fee, net, currency, created, payment_intent_id, source_status)
       SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[], $8::text[],
                                $9::timestamptz[], $10::text[], $11::text[])
       ON CONFLICT DO NOTHING`,
      [
        runId,
        txns.map((t) => t.id),
        txns.map((t) => t.sourceId),
        txns.map((t) => t.type),
        txns.map((t) => t.amount),
        txns.map((t) => t.fee),
        txns.map((t) => t.net),
        txns.map((t) => t.currency),
        txns.map((t) => t.created.toISOString()),
        txns.map((t) => t.paymentIntentId),
        txns.map((t) => t.sourceStatus),
      ],
    );
  }

  /** Forgets copies of runs that are no longer running (finished, or taken over after their worker died). */
  async dropStaleCopies(): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      await m.query(LONG_STATEMENT);
      await m.query(
        `DELETE FROM reconciliation_audit_stripe_txns s
          WHERE NOT EXISTS (SELECT 1 FROM reconciliation_audits a WHERE a.run_id = s.run_id AND a.status = 'running')`,
      );
    });
  }

  /**
   * Compares the run's copy of Stripe's list with the entries that occurred in [day start, `until`), in one
   * statement, so in one snapshot (the reconciliation worker may be writing entries meanwhile). A Stripe transaction
   * is the platform's when its PaymentIntent is one payments created, its source is a charge, refund or dispute
   * payments knows, or an entry names it; the others (payouts, Stripe's fees, other integrations on the account)
   * are counted, not compared. A line without its entry is pending, not missing, while the reconciliation worker
   * still has its source queued or Stripe still has the refund pending.
   */
  async compare(runId: string, day: string, until: Date): Promise<Omit<AuditResult, 'dayComplete' | 'stripeTransactions'>> {
    const { start } = dayBounds(day);
    return this.dataSource.transaction(async (m) => {
      await m.query(LONG_STATEMENT);
      await m.query(NO_JIT);
      // The copy was just loaded: without statistics the planner would guess its size.
      await m.query('ANALYZE reconciliation_audit_stripe_txns');
      const [row] = await m.query<Compared[]>(
        `WITH stripe AS (
           SELECT s.* FROM reconciliation_audit_stripe_txns s
            WHERE s.run_id = $1
              AND (EXISTS (SELECT 1 FROM reconciliation_entries e WHERE e.entry_id = s.txn_id)
                OR EXISTS (SELECT 1 FROM payments p WHERE p.payment_intent_id = s.payment_intent_id)
                OR EXISTS (SELECT 1 FROM reconciliation_sources r WHERE r.source_id = s.source_id)
                OR EXISTS (SELECT 1 FROM payments p WHERE p.charge_id = s.source_id)
                OR EXISTS (SELECT 1 FROM refunds f WHERE f.refund_id = s.source_id))),
         entries AS (SELECT * FROM reconciliation_entries WHERE occurred_at >= $2 AND occurred_at < $3),
         lines AS (
           SELECT coalesce(s.txn_id, e.entry_id) AS txn_id, coalesce(s.source_id, e.source_id) AS source_id,
                  s.type, e.kind, e.order_id, coalesce(s.currency, e.currency) AS currency,
                  s.amount AS s_gross, s.fee AS s_fee, s.net AS s_net, s.currency AS s_currency,
                  e.gross AS e_gross, e.fee AS e_fee, e.net AS e_net, e.currency AS e_currency,
                  CASE WHEN e.entry_id IS NULL THEN
                         CASE WHEN s.source_status IN ('pending', 'requires_action')
                                OR EXISTS (SELECT 1 FROM reconciliation_sources r
                                            WHERE r.source_id = s.source_id AND r.done_at IS NULL)
                              THEN 'pending' ELSE 'missing' END
                       WHEN s.txn_id IS NULL THEN 'unexpected'
                       WHEN (s.amount, s.fee, s.net, s.currency) IS DISTINCT FROM (e.gross, e.fee, e.net, e.currency)
                         THEN 'differs'
                  END AS problem
             FROM stripe s FULL JOIN entries e ON e.entry_id = s.txn_id),
         -- Orders charged this day that more than one charge still holds money for (two attempts both paid, and
         -- the second not refunded in full; decision 0018 refunds it). A charge counts once it has its entry: an
         -- authorisation cancelled before capture took nothing.
         paid_twice AS (
           SELECT c.order_id, count(DISTINCT a.source_id) AS charges
             FROM (SELECT DISTINCT order_id FROM entries WHERE kind = 'charge') c
             JOIN reconciliation_entries a ON a.order_id = c.order_id AND a.kind = 'charge'
            WHERE a.gross + coalesce((SELECT sum(r.gross) FROM reconciliation_entries r
                                       WHERE r.order_id = a.order_id AND r.kind = 'refund' AND r.charge_id = a.source_id), 0) > 0
            GROUP BY c.order_id HAVING count(DISTINCT a.source_id) > 1)
         SELECT
           (SELECT coalesce(json_agg(t), '[]') FROM (
              SELECT s_currency AS currency, 'stripe' AS side, count(*) AS n, sum(s_gross) AS gross, sum(s_fee) AS fee,
                     sum(s_net) AS net
                FROM lines WHERE s_currency IS NOT NULL GROUP BY s_currency
              UNION ALL
              SELECT e_currency, 'entries', count(*), sum(e_gross), sum(e_fee), sum(e_net)
                FROM lines WHERE e_currency IS NOT NULL GROUP BY e_currency) t) AS totals,
           (SELECT coalesce(json_agg(c), '[]') FROM (
              SELECT problem, count(*) AS n FROM lines WHERE problem IS NOT NULL GROUP BY problem) c) AS counts,
           -- The lines a person acts on first: money unaccounted for before what is still settling.
           (SELECT coalesce(json_agg(l), '[]') FROM (
              SELECT * FROM lines WHERE problem IS NOT NULL
               ORDER BY array_position(ARRAY['missing', 'unexpected', 'differs', 'pending'], problem), txn_id
               LIMIT ${MAX_DETAIL_LINES}) l) AS lines,
           (SELECT coalesce(json_agg(o), '[]') FROM (
              SELECT s.type, count(*) AS n FROM reconciliation_audit_stripe_txns s
               WHERE s.run_id = $1 AND NOT EXISTS (SELECT 1 FROM stripe p WHERE p.txn_id = s.txn_id)
               GROUP BY s.type ORDER BY s.type) o) AS others,
           (SELECT count(*) FROM paid_twice) AS paid_twice_count,
           (SELECT coalesce(json_agg(d), '[]') FROM (
              SELECT order_id AS "orderId", charges FROM paid_twice ORDER BY order_id LIMIT ${MAX_DETAIL_LINES}) d)
             AS paid_twice`,
        [runId, start.toISOString(), until.toISOString()],
      );
      return summarise(row);
    });
  }

  /**
   * Writes the run's outcome, if the run still holds its claim; a request made during the run asks for the next.
   */
  async finish(day: string, runId: string, result: AuditResult): Promise<boolean> {
    const rows = await this.dataSource.query<unknown[]>(
      `WITH f AS (
         UPDATE reconciliation_audits
            SET status = CASE WHEN rerun_requested THEN 'requested' ELSE 'done' END, rerun_requested = false,
                finished_at = now(), lease_until = NULL, runs = runs + 1, outcome = $3, result = $4::jsonb,
                last_error = NULL
          WHERE day = $1 AND run_id = $2 AND status = 'running' RETURNING day)
       SELECT * FROM f`,
      [day, runId, result.outcome, JSON.stringify(result)],
    );
    return rows.length === 1;
  }

  /** A run that failed (Stripe or PostgreSQL unavailable): due again after `delayMs`. */
  async fail(day: string, runId: string, error: string, delayMs: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE reconciliation_audits SET status = 'failed', lease_until = NULL, last_error = $3,
              next_attempt_at = now() + $4 * interval '1 millisecond'
        WHERE day = $1 AND run_id = $2 AND status = 'running'`,
      [day, runId, error.slice(0, 500), delayMs],
    );
  }

  /** A run stopped by the service's shutdown: asked for again at once, for whichever replica is up. */
  async release(day: string, runId: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE reconciliation_audits SET status = 'requested', lease_until = NULL, next_attempt_at = now()
        WHERE day = $1 AND run_id = $2 AND status = 'running'`,
      [day, runId],
    );
  }
}

interface Compared {
  totals: { currency: string; side: 'stripe' | 'entries'; n: number; gross: number; fee: number; net: number }[];
  counts: { problem: AuditProblem; n: number }[];
  lines: Record<string, unknown>[];
  others: { type: string; n: number }[];
  paid_twice_count: string;
  paid_twice: { orderId: string; charges: number }[];
}

function summarise(row: Compared): Omit<AuditResult, 'dayComplete' | 'stripeTransactions'> {
  const byCurrency = new Map<string, CurrencyTotals>();
  for (const t of row.totals) {
    let c = byCurrency.get(t.currency);
    if (!c) byCurrency.set(t.currency, (c = { currency: t.currency, stripe: zero(), entries: zero(), difference: zero() }));
    c[t.side] = { count: Number(t.n), gross: Number(t.gross), fee: Number(t.fee), net: Number(t.net) };
  }
  for (const c of byCurrency.values())
    c.difference = {
      count: c.entries.count - c.stripe.count,
      gross: c.entries.gross - c.stripe.gross,
      fee: c.entries.fee - c.stripe.fee,
      net: c.entries.net - c.stripe.net,
    };
  const problems = Object.fromEntries(AUDIT_PROBLEMS.map((p) => [p, 0])) as Record<AuditProblem, number>;
  for (const c of row.counts) problems[c.problem] = Number(c.n);
  problems.order_paid_twice = Number(row.paid_twice_count);
  const money = (gross: unknown, fee: unknown, net: unknown) =>
    gross === null ? null : { gross: Number(gross), fee: Number(fee), net: Number(net) };
  const details: AuditLine[] = row.lines.map((l) => ({
    problem: l.problem as AuditProblem,
    balanceTransactionId: String(l.txn_id),
    sourceId: (l.source_id as string | null) ?? null,
    type: (l.type as string | null) ?? null,
    kind: (l.kind as string | null) ?? null,
    orderId: (l.order_id as string | null) ?? null,
    currency: String(l.currency),
    stripe: money(l.s_gross, l.s_fee, l.s_net),
    entry: money(l.e_gross, l.e_fee, l.e_net),
  }));
  const mismatches = problems.missing + problems.unexpected + problems.differs + problems.order_paid_twice;
  return {
    outcome: mismatches > 0 ? 'mismatches' : problems.pending > 0 ? 'pending' : 'clean',
    problems,
    currencies: [...byCurrency.values()],
    otherStripeTransactions: Object.fromEntries(row.others.map((o) => [o.type, Number(o.n)])),
    details,
    ordersPaidTwice: row.paid_twice.map((d) => ({ orderId: d.orderId, charges: Number(d.charges) })),
  };
}
