/**
 * The Stripe event types the platform acts on: what its webhook endpoint subscribes to (`enabled_events`, in the
 * Stripe Dashboard or `stripe.webhookEndpoints.create`) and what its consumer groups read of `stripe.events.v1`.
 * An endpoint subscribed to more (`*`) works too: the webhooks service stores whatever is signed, and each group
 * passes over the rest by the `message-subject` header without parsing it.
 */

/**
 * Everything that can move a payment, refund or dispute the payments service owns. Not
 * `payment_intent.created`: the create call's own answer records the PaymentIntent, and the only thing the event
 * could add (linking an intent whose answer a crash lost) is done by the caller's retry, which Stripe's idempotency
 * key answers with the same intent (decision 0009). Every checkout saves a delivery, a stored event, a relay pass
 * and a consumer transaction.
 */
export const PAYMENT_EVENT_TYPES = [
  'payment_intent.requires_action',
  'payment_intent.processing',
  'payment_intent.amount_capturable_updated',
  'payment_intent.partially_funded',
  'payment_intent.succeeded',
  'payment_intent.payment_failed',
  'payment_intent.canceled',
  'charge.succeeded',
  'charge.failed',
  'charge.pending',
  'charge.captured',
  'charge.expired',
  'charge.updated',
  'charge.refunded',
  'charge.refund.updated',
  'refund.created',
  'refund.updated',
  'refund.failed',
  'charge.dispute.created',
  'charge.dispute.updated',
  'charge.dispute.closed',
  'charge.dispute.funds_withdrawn',
  'charge.dispute.funds_reinstated',
] as const;

/** Server-driven reader actions, for the terminal service. */
export const READER_EVENT_TYPES = [
  'terminal.reader.action_succeeded',
  'terminal.reader.action_failed',
  'terminal.reader.action_updated',
] as const;

/**
 * Payouts, for matching each bank deposit with the balance transactions it paid out (decision 0019). A payout's
 * transactions can be listed once it is `paid` and Stripe has attributed them (`reconciliation_status:
 * completed`, announced by `payout.reconciliation_completed`); it may still fail after `paid`.
 */
export const PAYOUT_EVENT_TYPES = [
  'payout.paid',
  'payout.failed',
  'payout.canceled',
  'payout.reconciliation_completed',
] as const;

/** The webhook endpoint's `enabled_events`. */
export const PLATFORM_EVENT_TYPES: readonly string[] = [...PAYMENT_EVENT_TYPES, ...READER_EVENT_TYPES, ...PAYOUT_EVENT_TYPES];
