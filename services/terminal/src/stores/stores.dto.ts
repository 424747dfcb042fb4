import { z } from 'zod';

export const storeIdSchema = z
  .string()
  .regex(/^[a-z0-9_]{1,64}$/, 'lower-case letters, digits and _ (e.g. store_berlin)');

const text = (max: number) => z.string().trim().min(1).max(max);

export const createStoreBody = z
  .object({
    id: storeIdSchema,
    displayName: text(100),
    address: z
      .object({
        line1: text(200),
        line2: text(200).optional(),
        city: text(100),
        postalCode: text(20),
        state: text(100).optional(),
        /** ISO 3166-1 alpha-2, as Stripe wants it. */
        country: z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2 in upper case (DE, FR, US)'),
      })
      .strict(),
  })
  .strict();
export type CreateStoreBody = z.infer<typeof createStoreBody>;
