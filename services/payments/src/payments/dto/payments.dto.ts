import { channel, currency } from '@omnipay/contracts';
import { z } from 'zod';

const ourId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');
/** Integer minor units; Stripe's ceiling is 99,999,999. */
const positiveAmount = z.number().int('must be an integer number of minor units').positive().max(99_999_999);

export const createPaymentBody = z
  .object({
    orderId: ourId,
    amount: positiveAmount,
    currency,
    channel,
    storeId: ourId.nullable().optional(),
    customerId: ourId.nullable().optional(),
    /** A new attempt (after a failed or canceled one) gets a new PaymentIntent; the same attempt never does. */
    attempt: z.number().int().min(1).max(1000).default(1),
    /** App channel: save the card for later (`off_session`) or for the next checkout (`on_session`). */
    setupFutureUsage: z.enum(['on_session', 'off_session']).optional(),
    description: z.string().max(500).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.channel === 'app' && !b.customerId)
      ctx.addIssue({ code: 'custom', path: ['customerId'], message: 'required for the app channel' });
    if (b.channel === 'pos' && !b.storeId)
      ctx.addIssue({ code: 'custom', path: ['storeId'], message: 'required for the pos channel' });
    if (b.setupFutureUsage && b.channel !== 'app')
      ctx.addIssue({ code: 'custom', path: ['setupFutureUsage'], message: 'only for the app channel' });
  });
export type CreatePaymentBody = z.infer<typeof createPaymentBody>;

export const captureBody = z.object({ amountToCapture: positiveAmount.optional() }).strict();
export const cancelBody = z
  .object({ reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned']).optional() })
  .strict();

export const refundBody = z
  .object({
    /** The caller's id of this refund request: the same id never refunds twice. */
    refundRequestId: ourId,
    amount: positiveAmount.optional(),
    reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).default('requested_by_customer'),
    returnedItems: z
      .array(z.object({ sku: ourId, quantity: z.number().int().positive().max(10_000) }).strict())
      .max(200)
      .default([]),
    returnStoreId: ourId.nullable().optional(),
    /**
     * How many of each SKU the order holds: the items returned by all of the payment's refund requests (pending or
     * succeeded) together may not exceed it (422 too_many_items_returned), so the same item is not refunded twice.
     * Not part of the request's terms (a repeat is judged without it).
     */
    returnLimit: z
      .array(z.object({ sku: ourId, quantity: z.number().int().nonnegative().max(1_000_000) }).strict())
      .max(200)
      .optional(),
  })
  .strict();
export type RefundBody = z.infer<typeof refundBody>;
