import { z } from 'zod';
import { defineMessage } from '../define-message';
import { channel, currency, customerId, minorUnits, orderId, paymentId, storeId } from '../primitives';
import { Topics } from '../topics';

const paymentRef = {
  paymentId,
  orderId,
  paymentIntentId: z.string().startsWith('pi_'),
  channel,
  storeId: storeId.nullable(),
  customerId: customerId.nullable(),
};

const key = (d: { orderId: string }) => d.orderId;

export const PaymentCreated = defineMessage({
  topic: Topics.paymentsEvents,
  type: 'payment.created',
  version: 1,
  schema: z.object({ ...paymentRef, amount: minorUnits, currency, captureMethod: z.enum(['automatic', 'manual']) }),
  key,
});

export const PaymentRequiresAction = defineMessage({
  topic: Topics.paymentsEvents,
  type: 'payment.requires_action',
  version: 1,
  schema: z.object({ ...paymentRef, nextActionType: z.string().nullable() }),
  key,
});

/** Authorised but not captured yet (manual capture, POS). */
export const PaymentAuthorized = defineMessage({
  topic: Topics.paymentsEvents,
  type: 'payment.authorized',
  version: 1,
  schema: z.object({ ...paymentRef, amountCapturable: minorUnits, currency }),
  key,
});

export const PaymentSucceeded = defineMessage({
  topic: Topics.paymentsEvents,
  type: 'payment.succeeded',
  version: 1,
  schema: z.object({ ...paymentRef, amount: minorUnits, amountReceived: minorUnits, currency, chargeId: z.string().nullable() }),
  key,
});

export const PaymentFailed = defineMessage({
  topic: Topics.paymentsEvents,
  type: 'payment.failed',
  version: 1,
  schema: z.object({
    ...paymentRef,
    code: z.string().nullable(),
    declineCode: z.string().nullable(),
    message: z.string().nullable(),
  }),
  key,
});

export const PaymentCanceled = defineMessage({
  topic: Topics.paymentsEvents,
  type: 'payment.canceled',
  version: 1,
  schema: z.object({ ...paymentRef, reason: z.string().nullable() }),
  key,
});

/**
 * The place of a refund fact (`payment.refunded`, `payment.refund_failed`) among its payment's: 1, 2, … in the
 * order payments decided them. A consumer applies a `totalRefunded` only when its `refundSeq` is above the last it
 * applied, so a failure that overtakes its refund (several payments replicas, a replay) cannot be undone by it.
 * Absent from messages written before it existed: apply those as before (the largest total wins).
 */
const refundSeq = z.number().int().positive().optional();

export const PaymentRefunded = defineMessage({
  topic: Topics.paymentsEvents,
  type: 'payment.refunded',
  version: 1,
  schema: z.object({
    ...paymentRef,
    refundId: z.string(),
    /** This refund's amount. */
    amount: minorUnits,
    /** Stripe's absolute `amount_refunded` after this refund: consumers apply totals, never increments. */
    totalRefunded: minorUnits,
    refundSeq,
    amountCaptured: minorUnits,
    currency,
    fullyRefunded: z.boolean(),
    reason: z.string().nullable(),
    /** Items given back, when the refund is a return (restock at `returnStoreId`). */
    returnedItems: z.array(z.object({ sku: z.string(), quantity: z.number().int().positive() })).default([]),
    returnStoreId: storeId.nullable().default(null),
  }),
  key,
});

/**
 * A refund that had succeeded failed later (closed or expired card, say): Stripe gave the money back to the
 * merchant's balance, so the customer did not get it. `totalRefunded` is the absolute amount still refunded after
 * it. Emitted after the refund's `payment.refunded`, on the same key, with a higher `refundSeq`.
 */
export const PaymentRefundFailed = defineMessage({
  topic: Topics.paymentsEvents,
  type: 'payment.refund_failed',
  version: 1,
  schema: z.object({
    ...paymentRef,
    refundId: z.string(),
    /** The failed refund's amount (money back with the merchant). */
    amount: minorUnits,
    totalRefunded: minorUnits,
    refundSeq,
    amountCaptured: minorUnits,
    currency,
    /** Stripe's `failure_reason` (`declined`, `expired_or_canceled_card`, `lost_or_stolen_card`, `unknown`, ...). */
    failureReason: z.string().nullable(),
  }),
  key,
});

export const PaymentDisputed = defineMessage({
  topic: Topics.paymentsEvents,
  type: 'payment.disputed',
  version: 1,
  schema: z.object({ ...paymentRef, disputeId: z.string(), amount: minorUnits, currency, reason: z.string().nullable() }),
  key,
});

/**
 * A dispute ended. `won`: the bank sided with the merchant and the disputed amount came back (Stripe's
 * `charge.dispute.funds_reinstated`); `lost`: the customer keeps it. Emitted once per dispute, after its
 * `payment.disputed`, on the same key.
 */
export const PaymentDisputeClosed = defineMessage({
  topic: Topics.paymentsEvents,
  type: 'payment.dispute_closed',
  version: 1,
  schema: z.object({
    ...paymentRef,
    disputeId: z.string(),
    /** Stripe's closed statuses; `warning_closed` (an inquiry) and `prevented` also leave the money with the merchant. */
    outcome: z.enum(['won', 'lost', 'warning_closed', 'prevented']),
    amount: minorUnits,
    currency,
  }),
  key,
});
