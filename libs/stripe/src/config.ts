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
    )
    // The mode in the key is the mode of the events the consumers act on (StripeEventScope): a key whose mode
    // cannot be read would pass over every event of the other mode without a word.
    .refine((v) => /^(sk|rk)_(test|live)_/.test(v), 'must be a test or live key (sk_test_…, sk_live_…, rk_test_…, rk_live_…)'),
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
  /**
   * How long the ids of applied Stripe events are kept to drop a second copy (a replay, a second endpoint, a
   * Dashboard resend). Longer than Stripe keeps events (30 days) and than the webhooks service keeps them for
   * replay (STRIPE_EVENTS_RETENTION_DAYS, 30), so no copy can outlive its id here. 0 keeps them for ever.
   */
  STRIPE_EVENT_DEDUP_DAYS: z.coerce.number().int().min(0).max(3650).default(35),
};

export const stripeConfigSchema = z.object(stripeConfigShape);
export type StripeConfig = z.infer<typeof stripeConfigSchema>;
