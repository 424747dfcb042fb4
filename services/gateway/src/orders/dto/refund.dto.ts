import { sku } from '@omnipay/contracts';
import { z } from 'zod';

/** A refund names an amount (default: everything still refundable) and, for a return, the items handed back. */
export const refundBody = z
  .object({
    amount: z.number().int('must be an integer number of minor units').positive().optional(),
    reason: z.enum(['duplicate', 'fraudulent', 'requested_by_customer']).default('requested_by_customer'),
    items: z.array(z.object({ sku, quantity: z.number().int().positive().max(100) }).strict()).max(50).default([]),
  })
  .strict();

export type RefundBody = z.infer<typeof refundBody>;

export const listQuery = z
  .object({
    status: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(100).optional(),
    before: z.string().max(200).optional(),
    storeId: z.string().max(64).optional(),
    customerId: z.string().max(128).optional(),
  })
  .strict();
