import {
  PaymentAuthorized,
  PaymentCanceled,
  PaymentCreated,
  PaymentDisputeClosed,
  PaymentDisputed,
  PaymentFailed,
  PaymentRefunded,
  PaymentRefundFailed,
  PaymentRequiresAction,
  PaymentSucceeded,
  type Envelope,
} from '@omnipay/contracts';
import { paymentMatches } from '../shared/payment-check';
import { isEvent, type PlanLog } from '../shared/payment-events';
import { REFUNDABLE, UNPAID, canTransition, type Fulfilment, type OrderStatus } from './order-status';
import type { OrderRow } from './order.view';

/** The columns of an order that payment events read or write, with amounts as numbers. */
export interface OrderPaymentState {
  id: string;
  status: OrderStatus;
  fulfilment: Fulfilment;
  currency: string;
  total: number;
  payment_id: string | null;
  payment_intent_id: string | null;
  payment_status: string | null;
  amount_paid: number | null;
  paid_currency: string | null;
  amount_captured: number | null;
  amount_refunded: number;
  last_payment_error: OrderRow['last_payment_error'];
  dispute_id: string | null;
  dispute_status: OrderRow['dispute_status'];
  refund_seq: number;
}

export interface PlannedTransition {
  orderId: string;
  from: OrderStatus;
  to: OrderStatus;
  reason: string | null;
  /** The payment event that caused it (history `message_id`, causation of `OrderStatusChanged`). */
  cause: Envelope;
}

/** A second payment that succeeded for an order already paid by another: its money is to go back. */
export interface DuplicatePayment {
  orderId: string;
  paymentId: string;
  paymentIntentId: string;
  keptPaymentId: string | null;
  amount: number;
  currency: string;
  cause: Envelope;
}

export interface OrdersPaymentPlan {
  /** Final state of every order the chunk changed, to be written back in one statement. */
  changed: OrderPaymentState[];
  /** Status changes in the order they happened (history rows, then `OrderStatusChanged`). */
  transitions: PlannedTransition[];
  /** Payments that paid an order a second time (`OrderPaymentDuplicated`, decision 0018). */
  duplicates: DuplicatePayment[];
}

export function toPaymentState(row: OrderRow): OrderPaymentState {
  const n = (v: string | number | null) => (v === null ? null : Number(v));
  return {
    id: row.id,
    status: row.status,
    fulfilment: row.fulfilment,
    currency: row.currency,
    total: Number(row.total),
    payment_id: row.payment_id,
    payment_intent_id: row.payment_intent_id,
    payment_status: row.payment_status,
    amount_paid: n(row.amount_paid),
    paid_currency: row.paid_currency,
    amount_captured: n(row.amount_captured),
    amount_refunded: Number(row.amount_refunded),
    last_payment_error: row.last_payment_error,
    dispute_id: row.dispute_id,
    dispute_status: row.dispute_status,
    refund_seq: Number(row.refund_seq ?? 0),
  };
}

type Facts = Partial<Omit<OrderPaymentState, 'id' | 'status' | 'fulfilment' | 'currency' | 'total' | 'refund_seq'>>;

/**
 * Applies a chunk of payment events (offset order) to the locked orders in memory, exactly as handling them one
 * at a time would: each event sees the state the previous ones left, so two events of one order in one chunk
 * (created then succeeded, succeeded then refunded) end as they would apart. Events may come late, twice (also
 * re-published under a new message id) or out of order: the transition table refuses anything that would move an
 * order backwards, and refunds are applied from Stripe's absolute `totalRefunded` in `refundSeq` order (a refund
 * that fails later lowers the total, and must win over its refund whichever arrives last), so the final state does
 * not depend on arrival order. `orders` is mutated.
 */
export function planOrderPayments(
  orders: Map<string, OrderPaymentState>,
  events: Envelope[],
  log: PlanLog,
): OrdersPaymentPlan {
  const changed = new Set<string>();
  const transitions: PlannedTransition[] = [];
  const duplicates: DuplicatePayment[] = [];

  const record = (order: OrderPaymentState, facts: Facts) => {
    for (const [k, v] of Object.entries(facts) as [keyof Facts, never][]) {
      if (v === undefined) continue;
      // Refunds only ever grow (Stripe's absolute total); a stale event cannot shrink them.
      if (k === 'amount_refunded') order.amount_refunded = Math.max(order.amount_refunded, v);
      else (order as unknown as Record<string, unknown>)[k] = v;
      changed.add(order.id);
    }
  };

  /**
   * Refund facts that do not move this order's refund state: those of another payment than the one that paid it (a
   * duplicate payment being refunded: the order stays paid by its own), and those at or below the last applied
   * `refundSeq` (out of date: a later fact of the same payment was applied).
   */
  const ignoredRefund = (order: OrderPaymentState, d: { paymentId: string; refundSeq?: number }, e: Envelope) => {
    if (order.payment_status === 'succeeded' && order.payment_id !== null && order.payment_id !== d.paymentId) {
      log.warn(
        { orderId: order.id, type: e.type, paymentId: d.paymentId, paidBy: order.payment_id },
        'refund fact of another payment than the one that paid the order; the order keeps its own refund state',
      );
      return true;
    }
    if (d.refundSeq === undefined || d.refundSeq > order.refund_seq) return false;
    log.info({ orderId: order.id, type: e.type, refundSeq: d.refundSeq, applied: order.refund_seq }, 'older refund fact; ignored');
    return true;
  };
  /** A sequenced total is exact (it may be lower than the one before: a failure in between). */
  const takeRefundTotal = (order: OrderPaymentState, total: number, seq: number) => {
    order.amount_refunded = total;
    order.refund_seq = seq;
    changed.add(order.id);
  };

  /** The table decides; an equal or refused status is silently kept (late, duplicate or stale events). */
  const transition = (order: OrderPaymentState, to: OrderStatus, reason: string | null, cause: Envelope) => {
    if (order.status === to) return;
    if (!canTransition(order.status, to, order.fulfilment)) return;
    transitions.push({ orderId: order.id, from: order.status, to, reason, cause });
    order.status = to;
    changed.add(order.id);
  };

  const applyRefundState = (
    order: OrderPaymentState,
    refunded: number,
    captured: number,
    cause: Envelope,
  ) => {
    if (refunded <= 0 || !REFUNDABLE.includes(order.status)) return;
    const to = captured > 0 && refunded >= captured ? 'refunded' : 'partially_refunded';
    transition(order, to, `refunded ${refunded} of ${captured} ${order.currency}`, cause);
  };

  for (const e of events) {
    const { orderId } = e.data as { orderId: string };
    const order = orders.get(orderId);
    if (!order) {
      log.warn({ orderId, type: e.type, messageId: e.id }, 'payment event for an unknown order; ignored');
      continue;
    }
    const unpaid = UNPAID.includes(order.status);

    if (isEvent(e, PaymentCreated) || isEvent(e, PaymentRequiresAction) || isEvent(e, PaymentAuthorized)) {
      if (!unpaid) continue; // an attempt's progress is irrelevant once the order is paid, flagged or cancelled
      const status = isEvent(e, PaymentAuthorized)
        ? 'authorized'
        : isEvent(e, PaymentRequiresAction)
          ? 'requires_action'
          : 'created';
      record(order, {
        payment_id: e.data.paymentId,
        payment_intent_id: e.data.paymentIntentId,
        payment_status: status,
      });
      // A new attempt after a failure: the order is payable again.
      transition(order, 'pending_payment', 'new_payment_attempt', e);
    } else if (isEvent(e, PaymentSucceeded)) {
      const d = e.data;
      if (order.payment_status === 'succeeded') {
        // The order stays paid by the payment it took first; the other's money goes back (payments refunds it).
        if (order.payment_intent_id !== d.paymentIntentId) {
          log.warn(
            { orderId, paymentIntentId: d.paymentIntentId, first: order.payment_intent_id },
            'second successful payment for one order; its refund is requested',
          );
          duplicates.push({
            orderId,
            paymentId: d.paymentId,
            paymentIntentId: d.paymentIntentId,
            keptPaymentId: order.payment_id,
            amount: d.amountReceived,
            currency: d.currency,
            cause: e,
          });
        }
        continue;
      }
      const captured = Math.max(order.amount_captured ?? 0, d.amountReceived);
      const refunded = order.amount_refunded;
      record(order, {
        payment_id: d.paymentId,
        payment_intent_id: d.paymentIntentId,
        payment_status: 'succeeded',
        amount_paid: d.amountReceived,
        paid_currency: d.currency,
        amount_captured: captured,
      });
      if (paymentMatches({ total: order.total, currency: order.currency }, d)) {
        const reason = order.status === 'cancelled' ? 'paid_after_cancellation' : 'payment_succeeded';
        transition(order, 'paid', reason, e);
      } else {
        log.warn(
          { orderId, paymentIntentId: d.paymentIntentId },
          'payment does not match the order: flagged',
        );
        const reason = `payment ${d.amountReceived} ${d.currency} (amount ${d.amount}) differs from order ${order.total} ${order.currency}`;
        transition(order, 'payment_mismatch', reason, e);
      }
      // A refund that overtook this success is applied now.
      applyRefundState(order, refunded, captured, e);
    } else if (isEvent(e, PaymentFailed) || isEvent(e, PaymentCanceled)) {
      if (!unpaid) {
        // A cancelled order's PaymentIntent is cancelled by payments (decision 0014): the order's payment shows it.
        const ownPayment = order.payment_id === null || order.payment_id === e.data.paymentId;
        if (isEvent(e, PaymentCanceled) && order.status === 'cancelled' && ownPayment && order.payment_status !== 'succeeded')
          record(order, { payment_id: e.data.paymentId, payment_intent_id: e.data.paymentIntentId, payment_status: 'canceled' });
        continue;
      }
      const failed = isEvent(e, PaymentFailed) ? e.data : null;
      record(order, {
        payment_id: e.data.paymentId,
        payment_intent_id: e.data.paymentIntentId,
        payment_status: failed ? 'failed' : 'canceled',
        last_payment_error: failed
          ? { code: failed.code, declineCode: failed.declineCode, message: failed.message }
          : null,
      });
      const reason = failed ? (failed.declineCode ?? failed.code ?? 'payment_failed') : 'payment_canceled';
      transition(order, 'payment_failed', reason, e);
    } else if (isEvent(e, PaymentRefunded)) {
      const d = e.data;
      if (ignoredRefund(order, d, e)) continue;
      const captured = Math.max(order.amount_captured ?? 0, d.amountCaptured);
      if (d.refundSeq === undefined) record(order, { amount_refunded: d.totalRefunded });
      else takeRefundTotal(order, d.totalRefunded, d.refundSeq);
      record(order, { amount_captured: captured });
      const refunded = order.amount_refunded;
      applyRefundState(order, refunded, d.fullyRefunded ? refunded : captured, e);
    } else if (isEvent(e, PaymentRefundFailed)) {
      // The one fact that lowers the refunded total. Its refundSeq is above its refund's, so a refund arriving after
      // its own failure is stale and cannot raise the total again.
      const d = e.data;
      if (ignoredRefund(order, d, e)) continue;
      takeRefundTotal(order, d.totalRefunded, d.refundSeq ?? order.refund_seq);
      const reason = `refund ${d.refundId} of ${d.amount} ${d.currency} failed (${d.failureReason ?? 'unknown'}): the customer is still owed it`;
      transition(order, 'refund_failed', reason, e);
    } else if (isEvent(e, PaymentDisputed)) {
      // A dispute's close follows its opening on the same key: opening never overwrites an outcome.
      if (order.dispute_id !== e.data.disputeId) record(order, { dispute_id: e.data.disputeId, dispute_status: 'open' });
    } else if (isEvent(e, PaymentDisputeClosed)) {
      record(order, { dispute_id: e.data.disputeId, dispute_status: e.data.outcome });
    }
  }
  return { changed: [...changed].map((id) => orders.get(id) as OrderPaymentState), transitions, duplicates };
}
