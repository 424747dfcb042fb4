import Stripe from 'stripe';

/** A Stripe error worth showing a caller: type, code, decline code and Stripe's message (never a key). */
export interface StripeErrorInfo {
  type: string;
  code: string | null;
  declineCode: string | null;
  message: string;
  statusCode: number | null;
  param: string | null;
}

export function stripeErrorInfo(error: unknown): StripeErrorInfo | null {
  if (!(error instanceof Stripe.errors.StripeError)) return null;
  return {
    type: error.type,
    code: error.code ?? null,
    declineCode: error.decline_code ?? null,
    message: error.message,
    statusCode: error.statusCode ?? null,
    param: error.param ?? null,
  };
}

/** Errors where a retry with the same idempotency key can help (network, 409 in flight, 429, 5xx). */
export function isRetryableStripeError(error: unknown): boolean {
  if (!(error instanceof Stripe.errors.StripeError)) return false;
  if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeAPIError) return true;
  const s = error.statusCode ?? 0;
  return s === 409 || s === 429 || s >= 500;
}
