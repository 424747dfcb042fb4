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

/** Masks anything shaped like an API key or a secret (Stripe echoes a bad key, partly masked, in 401 messages). */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b(sk|rk|pk)_(test|live)_[A-Za-z0-9*]+/g, '$1_$2_[redacted]')
    .replace(/\b(whsec|[a-z]+_[A-Za-z0-9]+_secret)_[A-Za-z0-9]+/g, '[redacted]');
}

export function stripeErrorInfo(error: unknown): StripeErrorInfo | null {
  if (!(error instanceof Stripe.errors.StripeError)) return null;
  return {
    type: error.type,
    code: error.code ?? null,
    declineCode: error.decline_code ?? null,
    message: redactSecrets(error.message),
    statusCode: error.statusCode ?? null,
    param: error.param ?? null,
  };
}

/** Errors where a retry with the same idempotency key can help (network, 409 in flight, 429, 5xx). */
export function isRetryableStripeError(error: unknown): boolean {
  if (!(error instanceof Stripe.errors.StripeError)) return false;
  if (error instanceof Stripe.errors.StripeConnectionError || error instanceof Stripe.errors.StripeAPIError)
    return true;
  const s = error.statusCode ?? 0;
  return s === 409 || s === 429 || s >= 500;
}
