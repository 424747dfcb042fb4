import {
  PaymentDisputeClosed,
  PaymentDisputed,
  PaymentRefundFailed,
  PaymentRefunded,
  PaymentSucceeded,
  type Envelope,
} from '@omnipay/contracts';
import { paymentMatches } from '../shared/payment-check';
import { isEvent, type PlanLog } from '../shared/payment-events';
import { accrualPoints, reversalTarget } from './points';

/** A `refund_reversal` takes points back (negative); one caused by a refund that failed later gives them back. */
export type EntryReason = 'accrual' | 'refund_reversal' | 'dispute_reversal';

/** Loyalty's copy of an order, amounts as numbers. */
export interface LoyaltyOrderState {
  order_id: string;
  customer_id: string;
  currency: string;
  expected_total: number;
  payment_id: string | null;
  paid_amount: number | null;
  mismatch: boolean;
  accrued_points: number | null;
  total_refunded: number;
  disputed_amount: number;
  /** Set once the dispute closed; a `won` one (any but `lost`) no longer counts as disputed. */
  dispute_outcome: string | null;
  /** `refundSeq` of the last refund fact applied (0: none yet, or only unsequenced ones). */
  refund_seq: number;
}

export interface PlannedEntry {
  customerId: string;
  orderId: string;
  reason: EntryReason;
  sourceRef: string;
  points: number;
  cause: Envelope;
}

export interface LoyaltyPlan {
  orders: LoyaltyOrderState[];
  /** Ledger entries in the order they were decided. */
  entries: PlannedEntry[];
}

/** The payment event kinds that move what was taken back of an order's points. */
const REVERSAL_EVENTS = [PaymentRefunded, PaymentRefundFailed, PaymentDisputed, PaymentDisputeClosed] as const;

/** The payment event kinds that can change points. */
export const POINTS_EVENTS = [PaymentSucceeded, ...REVERSAL_EVENTS] as const;

/** Events of the chunk that can change points. */
export function pointsEvents(events: Envelope[]): Envelope[] {
  return events.filter((e) => POINTS_EVENTS.some((d) => isEvent(e, d)));
}

/**
 * Orders whose already-reversed points the plan may need: only those with something refunded or disputed, before
 * or in this chunk (with nothing refunded or disputed the reversal target is 0 and the ledger is not read).
 */
export function ordersNeedingReversals(orders: Map<string, LoyaltyOrderState>, events: Envelope[]): string[] {
  const ids = new Set<string>();
  for (const o of orders.values()) if (o.total_refunded > 0 || o.disputed_amount > 0) ids.add(o.order_id);
  for (const e of events) {
    if (REVERSAL_EVENTS.some((d) => isEvent(e, d))) ids.add((e.data as { orderId: string }).orderId);
  }
  return [...ids].filter((id) => orders.has(id));
}

/**
 * Points owed for a chunk of payment events (offset order), decided in memory on the locked loyalty orders exactly
 * as one event at a time: one accrual per order for a matching payment (a mismatch earns nothing, ever), and
 * reversals that bring the order's reversed points to the pro-rata target of what is refunded and disputed so far
 * (absolute amounts: same facts in any order, any number of times → same ledger). A refund that fails later or a
 * dispute the merchant wins lowers what counts as given back, and the difference comes back as points. Refund totals
 * are taken in `refundSeq` order, so a refund arriving after its own failure changes nothing, and only the facts of
 * the payment that earned the points count (decision 0011). `reversed` holds, per order of
 * `ordersNeedingReversals`, the points already taken back; both maps are mutated.
 */
export function planLoyaltyPayments(
  orders: Map<string, LoyaltyOrderState>,
  reversed: Map<string, number>,
  events: Envelope[],
  pointsPerUnit: number,
  log: PlanLog,
): LoyaltyPlan {
  const changed = new Set<string>();
  const entries: PlannedEntry[] = [];

  const append = (
    o: LoyaltyOrderState,
    reason: EntryReason,
    sourceRef: string,
    points: number,
    cause: Envelope,
  ) => {
    entries.push({ customerId: o.customer_id, orderId: o.order_id, reason, sourceRef, points, cause });
    if (reason !== 'accrual') reversed.set(o.order_id, (reversed.get(o.order_id) ?? 0) - points);
  };

  const reconcileReversal = (o: LoyaltyOrderState, reason: EntryReason, cause: Envelope) => {
    if (o.accrued_points === null || o.paid_amount === null) return; // nothing accrued yet (or never will)
    const target = reversalTarget(o.accrued_points, o.paid_amount, o.total_refunded, o.disputed_amount);
    const already = reversed.get(o.order_id);
    if (already === undefined) {
      if (target <= 0) return; // nothing refunded or disputed, ever: the ledger was not read
      throw new Error(`reversed points of ${o.order_id} were not loaded`);
    }
    // Below what was taken back only when a refund failed (the total went down): the difference is given back.
    const owed = target - already;
    if (owed !== 0) append(o, reason, cause.id, -owed, cause);
  };

  for (const e of events) {
    const o = orders.get((e.data as { orderId: string }).orderId);
    if (!o) continue; // walk-in sale or not our order: no points
    if (isEvent(e, PaymentSucceeded)) {
      const p = e.data;
      if (o.accrued_points !== null || o.mismatch) continue; // one accrual per order
      changed.add(o.order_id);
      if (!paymentMatches({ total: o.expected_total, currency: o.currency }, p)) {
        o.mismatch = true;
        log.warn(
          { orderId: p.orderId, paymentId: p.paymentId },
          'payment does not match the order: no points',
        );
        continue;
      }
      const points = accrualPoints(p.amountReceived, p.currency, pointsPerUnit);
      Object.assign(o, { accrued_points: points, paid_amount: p.amountReceived, payment_id: p.paymentId });
      if (points > 0) append(o, 'accrual', p.paymentId, points, e);
      // Refunds or disputes that overtook this success are reversed now.
      reconcileReversal(o, o.total_refunded > 0 ? 'refund_reversal' : 'dispute_reversal', e);
    } else if (isEvent(e, PaymentRefunded) || isEvent(e, PaymentRefundFailed)) {
      // Totals in `refundSeq` order: a failure lowers the total, and a refund that arrives after its own failure is
      // older and changes nothing. Unsequenced (older) messages: the larger refund total wins, a failure sets it.
      const { totalRefunded, refundSeq, paymentId } = e.data;
      if (o.payment_id !== null && o.payment_id !== paymentId) {
        // A duplicate payment being refunded: the points were earned by the payment that paid the order.
        log.warn({ orderId: o.order_id, type: e.type, paymentId, paidBy: o.payment_id }, 'refund fact of another payment; no points change');
        continue;
      }
      if (refundSeq !== undefined && refundSeq <= o.refund_seq) {
        log.info({ orderId: o.order_id, type: e.type, refundSeq, applied: o.refund_seq }, 'older refund fact; ignored');
        continue;
      }
      if (refundSeq !== undefined) o.refund_seq = refundSeq;
      o.total_refunded =
        refundSeq === undefined && isEvent(e, PaymentRefunded) ? Math.max(o.total_refunded, totalRefunded) : totalRefunded;
      changed.add(o.order_id);
      reconcileReversal(o, 'refund_reversal', e);
    } else if (isEvent(e, PaymentDisputed)) {
      if (o.dispute_outcome !== null) continue; // closed already: a repeated opening changes nothing
      o.disputed_amount = Math.max(o.disputed_amount, e.data.amount);
      changed.add(o.order_id);
      reconcileReversal(o, 'dispute_reversal', e);
    } else if (isEvent(e, PaymentDisputeClosed)) {
      // Won (or an inquiry closed): the merchant keeps the money, so the points taken back come back.
      o.dispute_outcome = e.data.outcome;
      o.disputed_amount = e.data.outcome === 'lost' ? Math.max(o.disputed_amount, e.data.amount) : 0;
      changed.add(o.order_id);
      reconcileReversal(o, 'dispute_reversal', e);
    }
  }
  return { orders: [...changed].map((id) => orders.get(id) as LoyaltyOrderState), entries };
}
