import { currency, minorUnits } from '@omnipay/contracts';
import { z } from 'zod';

const ourId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.:-]+$/, 'letters, digits and _ . : - only');
const positiveAmount = minorUnits.positive().max(99_999_999);

export const actionIdSchema = z.string().regex(/^ract_[a-f0-9]{1,64}$/, 'a reader action id (ract_…)');

export const startPaymentBody = z
  .object({
    orderId: ourId,
    /** The order's server-computed total (the gateway reads it from orders). */
    amount: positiveAmount,
    currency,
    customerId: ourId.nullable().optional(),
    /** Capture less than authorised (e.g. an item turned out missing); default: everything authorised. */
    amountToCapture: positiveAmount.optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.amountToCapture !== undefined && b.amountToCapture > b.amount)
      ctx.addIssue({ code: 'custom', path: ['amountToCapture'], message: 'cannot exceed amount' });
  });
export type StartPaymentBody = z.infer<typeof startPaymentBody>;

export const captureBody = z.object({ amountToCapture: positiveAmount.optional() }).strict();

export const listActionsQuery = z
  .object({
    orderId: ourId.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();
