import Stripe from 'stripe';

/** A Stripe error worth showing a caller: type, code, decline code and Stripe's message (never a key). */
export interface StripeErrorInfo {
  /** The SDK's class name (`StripeCardError`, …). */
  type: string;
  /** Stripe's own error type (`card_error`, `idempotency_error`, …); the SDK keeps it beside its class name. */
  rawType: string | null;
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
    rawType: error.rawType ?? null,
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

/**
 * The same idempotency key sent with other parameters: a bug of ours, never fixed by a retry. Stripe says so in the
 * error's type (`idempotency_error`), with no code.
 */
export function isIdempotencyMismatch(error: unknown): boolean {
  return error instanceof Stripe.errors.StripeIdempotencyError || (error instanceof Stripe.errors.StripeError && error.rawType === 'idempotency_error');
}

/**
 * Errors after which the write may have happened at Stripe all the same: no answer (timeout, connection lost), a 5xx
 * (Stripe may fail after acting), or our own first try still running under the same key. Unlike
 * `isRetryableStripeError`, a 409 of another kind (a busy reader) or a 429 says Stripe did not act.
 */
export function isAmbiguousStripeError(error: unknown): boolean {
  if (!(error instanceof Stripe.errors.StripeError)) return false;
  if (error instanceof Stripe.errors.StripeConnectionError) return !neverSent(error);
  const s = error.statusCode ?? 0;
  // The SDK makes every 409 a StripeAPIError: the status and code tell them apart.
  if (s === 409) return error.code === 'idempotency_key_in_use';
  return s >= 500 || (s === 0 && error instanceof Stripe.errors.StripeAPIError);
}

/** Socket errors before any byte of the request went out: Stripe cannot have acted on it. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function neverSent(error: InstanceType<typeof Stripe.errors.StripeConnectionError>): boolean {
  const code = (error.detail as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && NOT_SENT.has(code);
}
