import { ApiError } from '../common/http-errors';
import type { Payment } from '../payments/payment.model';

/** How a cancellation request ended. */
export type CancellationOutcome =
  /** Stripe cancelled the PaymentIntent. */
  | 'canceled'
  /** It was cancelled already (by Stripe, an operator, or an earlier pass). */
  | 'already_canceled'
  /** The customer paid first: the order service honours the payment (`cancelled → paid`). */
  | 'already_succeeded'
  /** The create never got a PaymentIntent from Stripe, so nobody holds a client secret to pay with. */
  | 'never_created'
  /** Stripe refused the cancel for good (e.g. the PaymentIntent is processing or was captured meanwhile). */
  | 'refused';

export type CancellationStep = { done: CancellationOutcome; detail?: string } | { retry: string };

/**
 * A payment still `creating` may be waiting for Stripe's answer right now; once it is older than this, the create
 * is over (a gateway gives up after its upstream timeout) and no PaymentIntent will come.
 */
export const CREATE_GRACE_MS = 10 * 60_000;

/** Before calling Stripe: a step that needs no call, or undefined to call Stripe. */
export function beforeStripe(
  p: Pick<Payment, 'status' | 'paymentIntentId' | 'createdAt'>,
  now: Date,
): CancellationStep | undefined {
  if (p.status === 'canceled') return { done: 'already_canceled' };
  if (p.status === 'succeeded') return { done: 'already_succeeded' };
  if (p.paymentIntentId) return undefined;
  if (now.getTime() - p.createdAt.getTime() > CREATE_GRACE_MS) return { done: 'never_created' };
  return { retry: 'the payment has no PaymentIntent yet' };
}

/**
 * After Stripe (or payments' own checks) refused: a refusal Stripe would repeat (4xx: the PaymentIntent moved on,
 * or our local state says it is final) ends the request; anything a retry can cure (Stripe down, rate limits, our
 * database busy) comes back later.
 */
export function afterRefusal(error: unknown): CancellationStep {
  if (error instanceof ApiError && error.getStatus() < 500) {
    if (error.code === 'not_cancelable') return { done: 'already_succeeded' };
    if (error.code === 'not_ready') return { retry: 'the payment has no PaymentIntent yet' };
    return { done: 'refused', detail: `${error.code}: ${messageOf(error)}` };
  }
  return { retry: messageOf(error) };
}

/** An ApiError's own message is Nest's generic one; the answer's message says what happened. */
function messageOf(error: unknown): string {
  if (error instanceof ApiError) return (error.getResponse() as { error: { message: string } }).error.message;
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
