import { channel, currency } from '@omnipay/contracts';
import { z } from 'zod';

/** A calendar day (UTC) from 2000 on that exists: 2025-02-30 is a 400 here, not an error further in. */
export const utcDay = z
  .string()
  .regex(/^2\d{3}-\d{2}-\d{2}$/, 'YYYY-MM-DD (UTC), from 2000')
  // (zod runs the refinement even when the pattern failed: an unparsable string must not throw here.)
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a date');

/** Ask for a day's audit of the reconciliation entries against Stripe (decision 0016). */
export const auditBody = z.object({ day: utcDay }).strict();

/** The paged entries' filters. */
export const entriesQuery = z
  .object({
    day: utcDay.optional(),
    currency: currency.optional(),
    channel: channel.optional(),
    storeId: z.string().min(1).max(64).optional(),
    cursor: z.string().max(300).optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
  })
  .strict();

/** A day's totals, optionally of one channel or store. */
export const summaryQuery = z
  .object({
    day: utcDay,
    channel: channel.optional(),
    storeId: z.string().min(1).max(64).optional(),
  })
  .strict();
