// Payment event envelopes as the payments service would publish them: for the batch planners' unit tests and
// the orders service's integration tests.
import { randomUUID } from 'node:crypto';
import {
  PaymentCanceled,
  PaymentCreated,
  PaymentDisputeClosed,
  PaymentDisputed,
  PaymentFailed,
  PaymentRefunded,
  PaymentRefundFailed,
  PaymentSucceeded,
  type DataOf,
  type Envelope,
  type MessageDefinition,
} from '@omnipay/contracts';
import type { PlanLog } from './payment-events';

export interface TestOrder {
  id: string;
  total: number;
  currency: string;
  channel?: 'app' | 'web' | 'pos';
  storeId?: string | null;
  customerId?: string | null;
}

function envelope<D extends MessageDefinition>(def: D, data: DataOf<D>): Envelope {
  return {
    id: randomUUID(),
    type: def.type,
    version: def.version,
    occurredAt: new Date().toISOString(),
    source: 'payments',
    correlationId: `corr-${randomUUID()}`,
    causationId: null,
    data: def.schema.parse(data),
  };
}

const ref = (o: TestOrder, pi: string) => ({
  paymentId: `pay_${pi.slice(3)}`,
  orderId: o.id,
  paymentIntentId: pi,
  channel: o.channel ?? 'web',
  storeId: o.storeId ?? null,
  customerId: o.customerId ?? null,
});

export const pay = {
  created: (o: TestOrder, pi: string) =>
    envelope(PaymentCreated, {
      ...ref(o, pi),
      amount: o.total,
      currency: o.currency,
      captureMethod: 'automatic',
    } as DataOf<typeof PaymentCreated>),
  succeeded: (o: TestOrder, pi: string, over: { amount?: number; currency?: string } = {}) =>
    envelope(PaymentSucceeded, {
      ...ref(o, pi),
      amount: over.amount ?? o.total,
      amountReceived: over.amount ?? o.total,
      currency: over.currency ?? o.currency,
      chargeId: `ch_${pi.slice(3)}`,
    } as DataOf<typeof PaymentSucceeded>),
  canceled: (o: TestOrder, pi: string) =>
    envelope(PaymentCanceled, { ...ref(o, pi), reason: 'requested_by_customer' } as DataOf<typeof PaymentCanceled>),
  failed: (o: TestOrder, pi: string) =>
    envelope(PaymentFailed, {
      ...ref(o, pi),
      code: 'card_declined',
      declineCode: 'insufficient_funds',
      message: 'Your card has insufficient funds.',
    } as DataOf<typeof PaymentFailed>),
  refunded: (
    o: TestOrder,
    pi: string,
    r: {
      refundId: string;
      /** This refund's amount; defaults to the total refunded (the first refund). */
      amount?: number;
      totalRefunded: number;
      returnedItems?: { sku: string; quantity: number }[];
      returnStoreId?: string;
      /** Left out: a message from before `refundSeq` existed. */
      refundSeq?: number;
    },
  ) =>
    envelope(PaymentRefunded, {
      ...ref(o, pi),
      refundId: r.refundId,
      amount: r.amount ?? r.totalRefunded,
      totalRefunded: r.totalRefunded,
      amountCaptured: o.total,
      currency: o.currency,
      fullyRefunded: r.totalRefunded >= o.total,
      reason: null,
      returnedItems: r.returnedItems ?? [],
      returnStoreId: r.returnStoreId ?? null,
      ...(r.refundSeq === undefined ? {} : { refundSeq: r.refundSeq }),
    } as DataOf<typeof PaymentRefunded>),
  /** A refund that had succeeded failed; `totalRefunded` is what stays refunded after it. */
  refundFailed: (o: TestOrder, pi: string, r: { refundId: string; amount: number; totalRefunded: number; refundSeq?: number }) =>
    envelope(PaymentRefundFailed, {
      ...ref(o, pi),
      refundId: r.refundId,
      amount: r.amount,
      totalRefunded: r.totalRefunded,
      amountCaptured: o.total,
      currency: o.currency,
      failureReason: 'expired_or_canceled_card',
      ...(r.refundSeq === undefined ? {} : { refundSeq: r.refundSeq }),
    } as DataOf<typeof PaymentRefundFailed>),
  disputed: (o: TestOrder, pi: string, amount: number) =>
    envelope(PaymentDisputed, {
      ...ref(o, pi),
      disputeId: `dp_${pi.slice(3)}`,
      amount,
      currency: o.currency,
      reason: 'fraudulent',
    } as DataOf<typeof PaymentDisputed>),
  disputeClosed: (o: TestOrder, pi: string, outcome: 'won' | 'lost', amount = o.total) =>
    envelope(PaymentDisputeClosed, {
      ...ref(o, pi),
      disputeId: `dp_${pi.slice(3)}`,
      outcome,
      amount,
      currency: o.currency,
    } as DataOf<typeof PaymentDisputeClosed>),
};

/** The same Stripe fact re-published under a new message id (a retried producer). */
export const republished = (e: Envelope): Envelope => ({ ...e, id: randomUUID() });

export function recordingLog(): PlanLog & {
  lines: { level: string; msg: string; fields: Record<string, unknown> }[];
} {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => {
    lines.push({ level, msg, fields });
  };
  return { lines, warn: at('warn'), error: at('error'), info: at('info') };
}
