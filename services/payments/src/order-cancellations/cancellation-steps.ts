import { ApiError } from '../common/http-errors';
import type { Payment } from '../payments/payment.model';
import type { PaymentStatus } from '../payments/payment-state';

/** How a cancellation request ended. */
export type CancellationOutcome =
  /** Stripe cancelled the PaymentIntent. */
  | 'canceled'
  /** It was cancelled already (by Stripe, an operator, or an earlier pass). */
  | 'already_canceled'
  /** The customer paid first: the order service honours the payment (`cancelled → paid`). */
  | 'already_succeeded'
  /** The create never got a PaymentIntent from Stripe within Stripe's idempotency window: none can appear now. */
  | 'never_created'
  /** Stripe kept refusing to cancel an open PaymentIntent (e.g. a bank debit `processing` for days). */
  | 'refused';

/** What a request comes to in one pass: ended, or to be tried again (`stripeRefused`: because Stripe refused). */
export type SettledStep = { done: CancellationOutcome; detail?: string } | { retry: string; stripeRefused?: true };

export type CancellationStep =
  | SettledStep
  /** Stripe refused for good: read the PaymentIntent to learn why (it may have moved on meanwhile). */
  | { refused: string };

/**
 * A payment still `creating` may get its PaymentIntent later: a create whose answer was lost is repeated by the
 * client with the same key, and Stripe returns the same PaymentIntent for 24 hours. Past that, none can appear.
 */
export const CREATE_GRACE_MS = 25 * 3_600_000;

/** Stripe's refusals of an open PaymentIntent are retried this many times (about 8 hours at the longest backoff). */
export const MAX_REFUSED_ATTEMPTS = 100;

/** Before calling Stripe: a step that needs no call, or undefined to call Stripe. */
export function beforeStripe(
  p: Pick<Payment, 'status' | 'paymentIntentId' | 'createdAt'> & Partial<Pick<Payment, 'createRefused'>>,
  now: Date,
): SettledStep | undefined {
  if (p.status === 'canceled') return { done: 'already_canceled' };
  if (p.status === 'succeeded') return { done: 'already_succeeded' };
  if (p.paymentIntentId) return undefined;
  // Stripe refused to create it: a repeat of the create for this cancelled order is refused (or, if it races, makes a
  // PaymentIntent that the create path asks to cancel), so none is to be waited for.
  if (p.createRefused) return { done: 'never_created' };
  if (now.getTime() - p.createdAt.getTime() > CREATE_GRACE_MS) return { done: 'never_created' };
  return { retry: NO_INTENT_YET };
}

export const NO_INTENT_YET = 'the payment has no PaymentIntent yet';

/**
 * After the cancel call failed: our own final state ends the request; a refusal Stripe would repeat (4xx) needs a
 * look at the PaymentIntent; anything a retry can cure (Stripe down, rate limits, our database busy) comes back.
 */
export function afterRefusal(error: unknown): CancellationStep {
  if (error instanceof ApiError && error.getStatus() < 500) {
    if (error.code === 'not_cancelable') return { done: 'already_succeeded' };
    if (error.code === 'not_ready') return { retry: NO_INTENT_YET };
    return { refused: `${error.code}: ${messageOf(error)}` };
  }
  return { retry: messageOf(error) };
}

/**
 * After Stripe refused and the PaymentIntent was read again: it was paid or cancelled meanwhile (the refusal's
 * reason), or it is still open (`processing`: Stripe cannot cancel it now, but it may come back payable if the
 * debit fails), so try again later with a new key, up to `MAX_REFUSED_ATTEMPTS`.
 */
export function afterRefresh(status: PaymentStatus, refusal: string, refusals: number): SettledStep {
  if (status === 'canceled') return { done: 'already_canceled' };
  if (status === 'succeeded') return { done: 'already_succeeded' };
  const why = `Stripe refused to cancel a PaymentIntent in ${status} (${refusal})`;
  return refusals >= MAX_REFUSED_ATTEMPTS ? { done: 'refused', detail: why } : { retry: why, stripeRefused: true };
}

/**
 * Reading the PaymentIntent after a refusal failed: Stripe refusing that too (the PaymentIntent is not there: another
 * account or mode, or deleted test data) ends the request; anything a retry can cure comes back.
 */
export function afterFailedRead(error: unknown, refusal: string): SettledStep {
  const step = afterRefusal(error);
  if ('refused' in step) return { done: 'refused', detail: `${refusal}; reading the PaymentIntent: ${step.refused}` };
  return step;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Stripe's cancellation reason for the order's. */
export function stripeReason(orderReason: string | null): 'abandoned' | 'requested_by_customer' {
  return orderReason === 'payment_expired' ? 'abandoned' : 'requested_by_customer';
}

/** Wait before the next try: 2 s, 4 s, … up to 5 min. */
export function backoffMs(attempts: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(1, Math.min(attempts, 20)));
}
