import { baseConfigSchema, commaSeparated } from '@omnipay/config';
import { stripeConfigShape } from '@omnipay/stripe';
import { z } from 'zod';

// Real secrets are `whsec_` + 32 bytes; a short one would be guessable, and an empty entry a config mistake.
const secretList = commaSeparated(z.string().min(16, 'each webhook secret must be at least 16 characters'), 8);

/** Settings of the webhooks service: the platform's own plus these. Validated at startup (see docs/configuration.md). */
export const webhooksConfigSchema = baseConfigSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(3003),
  DATABASE_SCHEMA: baseConfigSchema.shape.DATABASE_SCHEMA.default('webhooks'),
  /**
   * Signing secrets of the Stripe endpoint, comma-separated. During a rotation both the old and the new one are
   * listed; a delivery is accepted if any `v1` signature matches any of them.
   */
  STRIPE_WEBHOOK_SECRETS: secretList,
  /** Maximum distance, in seconds and in either direction, between the signature timestamp and our clock. */
  STRIPE_WEBHOOK_TOLERANCE_S: z.coerce.number().int().min(1).max(3600).default(300),
  /** Larger bodies get a 413 without being read further (Stripe events are a few KB). */
  WEBHOOK_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(512 * 1024),
  /**
   * Verified Stripe events (raw) are kept this long for replay and audit, then deleted. Payments and terminal keep
   * the ids of applied events longer (STRIPE_EVENT_DEDUP_DAYS, 35), so a replay never outlives their dedup.
   * 0 keeps them for ever.
   */
  STRIPE_EVENTS_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  /** Most events one shared transaction stores. */
  WEBHOOK_BATCH_MAX: z.coerce.number().int().min(1).max(2000).default(250),
  /** How long the first event of a batch may wait for company before its transaction starts. */
  WEBHOOK_BATCH_WAIT_MS: z.coerce.number().min(0).max(100).default(2),
  /** Batches whose transactions may be open at once (each holds one pool connection). */
  WEBHOOK_BATCH_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(3),
  /**
   * A Stripe key that can read events, for the backfill: a restricted key (rk_…) with only "Events: read", never
   * the secret key (that stays in payments). Unset = no backfill.
   */
  STRIPE_EVENTS_READ_KEY: z
    .string()
    .refine((v) => v.startsWith('rk_'), 'must be a restricted key (rk_…) with only "Events: read"')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** Unset = real Stripe (api.stripe.com); the emulator's URL in development. */
  STRIPE_API_BASE: stripeConfigShape.STRIPE_API_BASE,
  /** How often the backfill asks Stripe for events not delivered yet (0 = only on `POST /admin/backfill`). */
  BACKFILL_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
  /** How far back it looks: Stripe retries a delivery for up to three days. */
  BACKFILL_WINDOW_S: z.coerce.number().int().min(60).max(30 * 86400).default(3 * 86400),
});

export type WebhooksConfig = z.infer<typeof webhooksConfigSchema>;
