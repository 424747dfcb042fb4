import { currency } from '@omnipay/contracts';
import { z } from 'zod';

/** A Stripe payout id, checked here so a malformed one is a 400, not a question to payments. */
export const payoutId = z.string().regex(/^po_[A-Za-z0-9_]{1,120}$/, 'a Stripe payout id (po_…)');

/** Payouts, newest arrival first (decision 0019). */
export const payoutsQuery = z
  .object({
    currency: currency.optional(),
    status: z.enum(['pending', 'in_transit', 'paid', 'failed', 'canceled']).optional(),
    cursor: z.string().max(300).optional(),
    limit: z.coerce.number().int().min(1).max(100).optional(),
  })
  .strict();

/** A payout's lines, paged. */
export const payoutLinesQuery = z
  .object({
    cursor: z.string().max(300).optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
  })
  .strict();
