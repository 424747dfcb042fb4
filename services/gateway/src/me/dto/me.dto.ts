import { z } from 'zod';

/** The API version of the mobile SDK asking for an ephemeral key (Stripe mints the key for that version). */
export const ephemeralKeyBody = z.object({ apiVersion: z.string().regex(/^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$/, 'a Stripe API version') }).strict();
