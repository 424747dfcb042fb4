import { z } from 'zod';
import { defineMessage } from '../define-message';
import { channel, currency, customerId, minorUnits, orderId, sku, storeId } from '../primitives';
import { Topics } from '../topics';

export const orderStatus = z.enum([
  'pending_payment',
  'paid',
  'ready_for_pickup',
  'fulfilled',
  'completed',
  'payment_failed',
  'cancelled',
  'partially_refunded',
  'refunded',
  'payment_mismatch',
  /** A refund failed after succeeding: the customer did not get the money; staff must refund another way. */
  'refund_failed',
]);

export const OrderPlaced = defineMessage({
  topic: Topics.ordersEvents,
  type: 'order.placed',
  version: 1,
  schema: z.object({
    orderId,
    channel,
    storeId,
    customerId: customerId.nullable(),
    fulfilment: z.enum(['ship', 'pickup', 'in_store']),
    lines: z.array(z.object({ sku, quantity: z.number().int().positive(), unitAmount: minorUnits })),
    total: minorUnits,
    currency,
  }),
  key: (d) => d.orderId,
});

export const OrderStatusChanged = defineMessage({
  topic: Topics.ordersEvents,
  type: 'order.status_changed',
  version: 1,
  schema: z.object({ orderId, from: orderStatus, to: orderStatus, reason: z.string().nullable() }),
  key: (d) => d.orderId,
  // The new status: a consumer of one transition (payments reads only `cancelled`) passes over the rest unread.
  subject: (d) => d.to,
});

/**
 * A second payment succeeded for an order another payment had already paid (two attempts both confirmed, a web
 * payment and a reader payment for one order): the order stays paid by `keptPaymentId`, and the duplicate's money
 * is to go back. Payments refunds it (decision 0018).
 */
export const OrderPaymentDuplicated = defineMessage({
  topic: Topics.ordersEvents,
  type: 'order.payment_duplicated',
  version: 1,
  schema: z.object({
    orderId,
    paymentId: z.string().min(1),
    paymentIntentId: z.string().min(1),
    keptPaymentId: z.string().min(1).nullable(),
    amount: minorUnits,
    currency,
  }),
  key: (d) => d.orderId,
  subject: () => 'payment_duplicated',
});
