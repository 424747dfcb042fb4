/**
 * What a day's audit finds (decision 0016), one line per balance transaction:
 * - `missing`: Stripe has the platform's transaction, finance has no entry for it;
 * - `pending`: the same, while the reconciliation worker still has its source queued (not a mismatch yet);
 * - `unexpected`: an entry of the day Stripe does not list on that day;
 * - `differs`: both have it, with another gross, fee, net or currency;
 * - `order_paid_twice`: an order charged this day that more than one charge took money for.
 */
export const AUDIT_PROBLEMS = ['missing', 'pending', 'unexpected', 'differs', 'order_paid_twice'] as const;
export type AuditProblem = (typeof AUDIT_PROBLEMS)[number];

export type AuditStatus = 'requested' | 'running' | 'done' | 'failed';
export type AuditOutcome = 'clean' | 'pending' | 'mismatches';

/** A balance transaction as listed by Stripe, as the audit copies it. */
export interface StripeTxn {
  id: string;
  sourceId: string | null;
  type: string;
  amount: number;
  fee: number;
  net: number;
  currency: string;
  created: Date;
  /** the PaymentIntent of the source (charge, refund, dispute), from Stripe's expanded source */
  paymentIntentId: string | null;
  /** the source's own status (a refund or a bank debit still `pending`) */
  sourceStatus: string | null;
}

export interface Totals {
  count: number;
  gross: number;
  fee: number;
  net: number;
}

/** Per currency: the platform's transactions as Stripe lists them, the entries, and entries minus Stripe. */
export interface CurrencyTotals {
  currency: string;
  stripe: Totals;
  entries: Totals;
  difference: Totals;
}

export interface AuditLine {
  problem: AuditProblem;
  balanceTransactionId: string;
  sourceId: string | null;
  /** Stripe's transaction type (`charge`, `refund`, `adjustment`, …), when Stripe listed it */
  type: string | null;
  /** the entry's kind, when there is an entry */
  kind: string | null;
  orderId: string | null;
  currency: string;
  stripe: { gross: number; fee: number; net: number } | null;
  entry: { gross: number; fee: number; net: number } | null;
}

export interface AuditResult {
  outcome: AuditOutcome;
  /** false while the day is not over (an audit of today is a snapshot) */
  dayComplete: boolean;
  /** everything Stripe listed for the day, the platform's or not */
  stripeTransactions: number;
  problems: Record<AuditProblem, number>;
  currencies: CurrencyTotals[];
  /** Stripe's transactions of the day that are not the platform's, by type (payouts, other integrations) */
  otherStripeTransactions: Record<string, number>;
  /** the first lines with a problem (the counts above cover all) */
  details: AuditLine[];
  ordersPaidTwice: { orderId: string; charges: number }[];
}

/** A row of `reconciliation_audits`, as PostgreSQL returns it. */
export interface AuditRow {
  day: string;
  status: AuditStatus;
  requested_at: Date;
  requested_by: string;
  run_id: string | null;
  runs: number;
  attempts: number;
  started_at: Date | null;
  finished_at: Date | null;
  next_attempt_at: Date;
  outcome: AuditOutcome | null;
  result: AuditResult | null;
  last_error: string | null;
  rerun_requested: boolean;
}

/** The audit as the API shows it. */
export function auditView(row: AuditRow) {
  const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
  return {
    day: row.day,
    status: row.status,
    outcome: row.outcome,
    requestedAt: iso(row.requested_at),
    requestedBy: row.requested_by,
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    runs: row.runs,
    ...(row.rerun_requested ? { rerunRequested: true } : {}),
    ...(row.status === 'failed' ? { lastError: row.last_error, nextAttemptAt: iso(row.next_attempt_at) } : {}),
    result: row.result,
  };
}

