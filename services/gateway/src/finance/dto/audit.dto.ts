import { z } from 'zod';

export const utcDay = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD (UTC)');

/** Ask for a day's audit of the reconciliation entries against Stripe (decision 0016). */
export const auditBody = z.object({ day: utcDay }).strict();
