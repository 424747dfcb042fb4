import { currency, customerId, sku } from '@omnipay/contracts';
import { z } from 'zod';

const id = z.string().min(1).max(128).regex(/^[A-Za-z0-9_.:-]+$/, 'not a valid id');

export const posOrderBody = z
  .object({
    currency,
    lines: z.array(z.object({ sku, quantity: z.number().int().min(1).max(100) }).strict()).min(1).max(50),
    /** The identified customer (loyalty card / app QR); omitted for a walk-in sale. */
    customerId: customerId.optional(),
  })
  .strict();

/** The amount is the order's server-computed total, captured whole: a client names neither. */
export const payOnReaderBody = z.object({ readerId: id }).strict();

export const registerReaderBody = z.object({ registrationCode: z.string().min(1).max(100), label: z.string().min(1).max(100) }).strict();

export const captureBody = z.object({}).strict();

export const storeBody = z
  .object({
    id: z.string().regex(/^[a-z0-9_]{1,64}$/),
    displayName: z.string().min(1).max(100),
    address: z
      .object({
        line1: z.string().min(1).max(200),
        line2: z.string().max(200).optional(),
        city: z.string().min(1).max(100),
        postalCode: z.string().min(1).max(20),
        state: z.string().max(100).optional(),
        country: z.string().regex(/^[A-Z]{2}$/),
      })
      .strict(),
  })
  .strict();

export const idParam = id;
