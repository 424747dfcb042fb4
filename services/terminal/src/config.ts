import { baseConfigSchema } from '@omnipay/config';
import { stripeConfigShape } from '@omnipay/stripe';
import { z } from 'zod';

const boolean = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Settings of the terminal service: the platform's own plus these. Validated at startup (see docs/configuration.md). */
export const terminalConfigSchema = baseConfigSchema.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(3004),
  DATABASE_SCHEMA: baseConfigSchema.shape.DATABASE_SCHEMA.default('terminal'),
  ...stripeConfigShape,
  /** Internal HTTP API of payments (PaymentIntents, capture). */
  PAYMENTS_URL: z.string().url(),
  /** Internal HTTP API of orders, for the cart lines on the reader display; unset = a one-line cart. */
  ORDERS_URL: z
    .string()
    .url()
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** Per call to payments/orders; a slow upstream is an error (502/504), never a hang. */
  UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
  /** A reader action still running after this long is cancelled at Stripe and marked `timed_out`. */
  READER_ACTION_TIMEOUT_MS: z.coerce.number().int().min(1000).max(3_600_000).default(120_000),
  /**
   * How long past its deadline a `pending` action (its hand-off to the reader not confirmed) waits before the sweeper
   * settles it: a start request may still be talking to payments or Stripe. An unconfirmed hand-off's deadline is the
   * moment it was given up on, so this is how long it holds the reader unless the cashier cancels it.
   */
  READER_PENDING_GRACE_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
  /**
   * An in-progress action Stripe has said nothing about for this long is checked: the sweeper reads the reader (and,
   * if it moved on, the PaymentIntent), so a success or failure whose event was lost or is late settles now rather
   * than at READER_ACTION_TIMEOUT_MS, with the customer still at the till. One Stripe read per quiet action per
   * interval; 0 = never (the deadline only).
   */
  READER_CHECK_MS: z.coerce.number().int().min(0).max(600_000).default(15_000),
  /** Capture an authorised reader payment as soon as the reader reports success (what a POS expects). */
  TERMINAL_AUTO_CAPTURE: boolean.default('true'),
  /** Tick of the worker that captures succeeded actions and times out silent readers. */
  TERMINAL_SWEEP_MS: z.coerce.number().int().min(50).max(60_000).default(1000),
});

export type TerminalConfig = z.infer<typeof terminalConfigSchema>;
