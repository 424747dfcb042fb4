import type { PayoutStatus } from './payout-state';

export interface LineTotals {
  count: number;
  gross: number;
  fee: number;
  net: number;
}

/** What comparing a payout's balance transactions with the reconciliation entries found (decision 0019). */
export interface PayoutResult {
  outcome: 'balanced' | 'mismatches' | 'not_attributable';
  lines: LineTotals;
  platform: LineTotals & { byKind: Record<string, LineTotals> };
  other: LineTotals & { byType: Record<string, number> };
  difference: number;
  problems: { missing_entry: number; differs: number };
  /** The platform's lines whose entry the reconciliation worker has not written yet (it still has the source queued). */
  pending: number;
}

export interface PayoutRow {
  id: string;
  amount: string;
  currency: string;
  arrival_date: Date;
  automatic: boolean;
  status: PayoutStatus;
  stripe_reconciliation_status: string | null;
  balance_transaction_id: string | null;
  failure_code: string | null;
  failure_message: string | null;
  recon_state: 'due' | 'done' | 'waiting';
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  outcome: string | null;
  result: PayoutResult | null;
  reconciled_at: Date | null;
  recorded_at: Date;
  /** When its copied lines were deleted (PAYOUT_LINES_RETENTION_DAYS after its reconciliation), or null. */
  lines_pruned_at: Date | null;
}

export const zeroTotals = (): LineTotals => ({ count: 0, gross: 0, fee: 0, net: 0 });

export function payoutView(r: PayoutRow) {
  return {
    payoutId: r.id,
    amount: Number(r.amount),
    currency: r.currency,
    arrivalDate: r.arrival_date.toISOString(),
    automatic: r.automatic,
    status: r.status,
    failureCode: r.failure_code,
    failureMessage: r.failure_message,
    reconciliation: {
      // `due`: waiting for Stripe to attribute the payout's transactions, or for the worker.
      state: r.recon_state === 'done' ? 'done' : r.status === 'paid' ? 'due' : 'waiting',
      outcome: r.outcome,
      reconciledAt: r.reconciled_at?.toISOString() ?? null,
      attempts: r.attempts,
      lastError: r.last_error,
      result: r.result,
    },
    recordedAt: r.recorded_at.toISOString(),
  };
}
