import { idOf } from '@omnipay/stripe';
import type Stripe from 'stripe';

/**
 * Stripe's payout statuses. A payout may fail after `paid` (the bank returned it): `paid → failed` is allowed; only a
 * `pending` one can be cancelled.
 */
export const PAYOUT_STATUSES = ['pending', 'in_transit', 'paid', 'failed', 'canceled'] as const;
export type PayoutStatus = (typeof PAYOUT_STATUSES)[number];

export const PAYOUT_TRANSITIONS: Readonly<Record<PayoutStatus, readonly PayoutStatus[]>> = {
  pending: ['in_transit', 'paid', 'failed', 'canceled'],
  in_transit: ['paid', 'failed'],
  paid: ['failed'],
  failed: [],
  canceled: [],
};

/** What the platform keeps of a payout; Stripe's events and re-reads are observations of it. */
export interface PayoutObservation {
  id: string;
  amount: number;
  currency: string;
  arrivalDate: Date;
  automatic: boolean;
  status: PayoutStatus;
  /** Stripe's `reconciliation_status`: `completed` once the payout's balance transactions can be listed. */
  reconciliationStatus: string | null;
  balanceTransactionId: string | null;
  failureCode: string | null;
  failureMessage: string | null;
  failureBalanceTransactionId: string | null;
}

export function observePayout(p: Stripe.Payout): PayoutObservation {
  return {
    id: p.id,
    amount: p.amount,
    currency: p.currency,
    arrivalDate: new Date(p.arrival_date * 1000),
    automatic: p.automatic,
    status: (PAYOUT_STATUSES as readonly string[]).includes(p.status) ? (p.status as PayoutStatus) : 'pending',
    reconciliationStatus: p.reconciliation_status ?? null,
    balanceTransactionId: idOf(p.balance_transaction),
    failureCode: p.failure_code ?? null,
    failureMessage: p.failure_message ?? null,
    failureBalanceTransactionId: idOf(p.failure_balance_transaction),
  };
}

export interface PayoutChange {
  status: PayoutStatus;
  reconciliationStatus: string | null;
  /** It just became paid: its reconciliation is due. */
  becamePaid: boolean;
  /** It just failed: finance is told that the deposit did not happen (or was returned). */
  becameFailed: boolean;
  /** It was canceled before it left: there is nothing to reconcile. */
  becameCanceled: boolean;
}

/**
 * Moves a payout forward only: Stripe does not order its events, so a late `payout.paid` cannot undo `failed`,
 * and `reconciliation_status` never goes back from `completed`. Undefined when the observation changes nothing.
 */
export function decidePayout(
  current: { status: PayoutStatus; reconciliationStatus: string | null } | undefined,
  observed: PayoutObservation,
): PayoutChange | undefined {
  const from = current?.status;
  const status = !from || from === observed.status || PAYOUT_TRANSITIONS[from].includes(observed.status) ? observed.status : from;
  const reconciliationStatus =
    current?.reconciliationStatus === 'completed' ? 'completed' : (observed.reconciliationStatus ?? current?.reconciliationStatus ?? null);
  if (current && status === current.status && reconciliationStatus === current.reconciliationStatus) return undefined;
  return {
    status,
    reconciliationStatus,
    becamePaid: status === 'paid' && from !== 'paid',
    becameFailed: status === 'failed' && from !== 'failed',
    becameCanceled: status === 'canceled' && from !== 'canceled',
  };
}
