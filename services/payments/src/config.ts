import { baseConfigSchema, booleanSetting } from '@omnipay/config';
import { stripeConfigShape } from '@omnipay/stripe';
import { z } from 'zod';

/** Settings of the payments service: the platform's own plus these. Validated at startup (see docs/configuration.md). */
export const paymentsConfigSchema = baseConfigSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(3002),
  DATABASE_SCHEMA: baseConfigSchema.shape.DATABASE_SCHEMA.default('payments'),
  ...stripeConfigShape,
  /** How often the janitor re-reads stuck payments from Stripe; 0 turns it off. */
  PAYMENTS_JANITOR_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(60_000),
  /** A payment in a non-final state is "stuck" once it has not changed for this long. */
  PAYMENTS_JANITOR_MIN_AGE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400_000)
    .default(15 * 60_000),
  /** Poll of the reconciliation worker (balance transactions are fetched outside the consumer's transaction). */
  RECONCILIATION_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(500),
  /** A claimed source comes back to other workers after this long if its worker died mid-way. */
  RECONCILIATION_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  /**
   * Audit every UTC day's reconciliation entries against Stripe's balance transactions (decision 0016), this many
   * minutes after the day ends (the reconciliation worker writes a day's last entries in the meantime).
   */
  RECONCILIATION_AUDIT_DAILY: booleanSetting.default('true'),
  RECONCILIATION_AUDIT_AFTER_MINUTES: z.coerce.number().int().min(0).max(1439).default(60),
  /** How often the audit worker looks for an audit to run (one asked for through the API wakes it at once). */
  RECONCILIATION_AUDIT_POLL_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /** A running audit's claim, renewed while it reads Stripe's list; another replica takes over once it runs out. */
  RECONCILIATION_AUDIT_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(300_000),
  /**
   * Poll of the worker that cancels the PaymentIntents of cancelled orders (a new request also wakes it at once);
   * it retries what Stripe could not do.
   */
  PAYMENT_CANCELLATIONS_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(2000),
  /** Poll of the worker that refunds payments that paid an order a second time (a new request wakes it at once). */
  DUPLICATE_REFUNDS_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(2000),
  /**
   * A reconciled payout's lines (its balance transactions, each with its entry) are kept this long after the
   * reconciliation; the payout and its result (totals, problems) stay. 0 keeps them for ever.
   */
  PAYOUT_LINES_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(400),
  /** How often the payout worker looks for a paid payout to match with its balance transactions (decision 0019). */
  PAYOUTS_POLL_MS: z.coerce.number().int().min(10).max(3_600_000).default(10_000),
  /** A payout's reconciliation claim, renewed while it reads Stripe's list; another replica takes over once it runs out. */
  PAYOUTS_LEASE_MS: z.coerce.number().int().min(10_000).max(3_600_000).default(120_000),
  /** First wait before a payout is looked at again (Stripe not done attributing it, entries still being written), doubling to an hour. */
  PAYOUTS_RETRY_MS: z.coerce.number().int().min(10).max(3_600_000).default(5_000),
  /**
   * Stored answers to requests with an Idempotency-Key are kept this long (the gateway keeps its own for 24 h;
   * internal callers retry within minutes). 0 keeps them for ever.
   */
  IDEMPOTENT_REQUESTS_RETENTION_HOURS: z.coerce.number().int().min(0).max(24 * 3650).default(168),
  /** How long a client Idempotency-Key is locked while its first request runs. */
  IDEMPOTENCY_LOCK_MS: z.coerce.number().int().min(1000).max(300_000).default(30_000),
});

export type PaymentsConfig = z.infer<typeof paymentsConfigSchema>;
