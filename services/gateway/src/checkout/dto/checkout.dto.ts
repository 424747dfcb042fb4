import { currency, sku, storeId } from '@omnipay/contracts';
import { z } from 'zod';

export const checkoutBody = z
  .object({
    /** `ship` from the online fulfilment centre (no `storeId`), or `pickup` at `storeId`. */
    fulfilment: z.enum(['ship', 'pickup']),
    storeId: storeId.optional(),
    currency,
    lines: z.array(z.object({ sku, quantity: z.number().int().min(1).max(100) }).strict()).min(1).max(50),
    /** App channel: keep the card for the next checkout. */
    saveCard: z.boolean().optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.fulfilment === 'pickup' && !b.storeId) ctx.addIssue({ code: 'custom', path: ['storeId'], message: 'the pickup store is required' });
    // A shipped order belongs to no store: one named here would hand it to that store's staff and its finance figures.
    if (b.fulfilment === 'ship' && b.storeId)
      ctx.addIssue({ code: 'custom', path: ['storeId'], message: 'a shipped order has no store; storeId is for pickup only' });
  });

export type CheckoutBody = z.infer<typeof checkoutBody>;

export const checkoutResponse = z.object({
  orderId: z.string(),
  status: z.string(),
  amount: z.number().int(),
  currency,
  paymentId: z.string(),
  paymentIntentId: z.string(),
  clientSecret: z.string(),
  publishableKey: z.string(),
});

export type CheckoutResponse = z.infer<typeof checkoutResponse>;
