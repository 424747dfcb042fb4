import { z } from 'zod';

/**
 * Zod fragments for the Stripe settings; spread into a service schema:
 * `baseConfigSchema.extend({ ...stripeConfigShape })` (terminal adds nothing else, payments the same).
 */
export const stripeConfigShape = {
  STRIPE_SECRET_KEY: z
    .string()
    .min(8)
    .refine(
      (v) => v.startsWith('sk_') || v.startsWith('rk_'),
      'must be a secret (sk_…) or restricted (rk_…) key',
    ),
  STRIPE_PUBLISHABLE_KEY: z.string().startsWith('pk_', 'must be a publishable key (pk_…)'),
  /** Unset = real Stripe (api.stripe.com); e.g. `http://127.0.0.1:12180` for the emulator. */
  STRIPE_API_BASE: z
    .string()
    .url()
    .refine((v) => /^https?:\/\//.test(v), 'must be an http(s):// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  STRIPE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120000).default(10000),
  /** The SDK retries network errors, 409s and 5xx with the same idempotency key. */
  STRIPE_MAX_NETWORK_RETRIES: z.coerce.number().int().min(0).max(10).default(2),
};

export const stripeConfigSchema = z.object(stripeConfigShape);
export type StripeConfig = z.infer<typeof stripeConfigSchema>;
