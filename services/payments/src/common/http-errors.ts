import { HttpStatus } from '@nestjs/common';
import { isIdempotencyMismatch, isRetryableStripeError, stripeErrorInfo, stripeIdempotencyErrors } from '@omnipay/stripe';
import { ApiError, conflict, unprocessable } from '@omnipay/platform';

// The error shape and input parsing are shared with the other internal APIs (libs/platform).
export { ApiError, badGateway, conflict, notFound, parseInput, unprocessable } from '@omnipay/platform';

/** A Stripe failure as an HTTP answer: declines 402, Stripe refusals 422, Stripe rate limits 503, Stripe unavailable 502. */
export function fromStripeError(error: unknown): ApiError | null {
  const info = stripeErrorInfo(error);
  if (!info) return null;
  // Stripe says so in the error's type, with no code. A bug of ours (a key reused for another request): counted,
  // and a 409 the caller must not retry as is.
  if (isIdempotencyMismatch(error)) {
    stripeIdempotencyErrors.inc();
    const error = conflict('idempotency_conflict', info.message);
    error.ourBug = true;
    return error;
  }
  if (info.type === 'StripeCardError') {
    return new ApiError(HttpStatus.PAYMENT_REQUIRED, info.code ?? 'card_declined', info.message, {
      declineCode: info.declineCode,
    });
  }
  if (info.statusCode === 429)
    return new ApiError(
      HttpStatus.SERVICE_UNAVAILABLE,
      'stripe_rate_limited',
      'Stripe is limiting our request rate; retry shortly with the same Idempotency-Key',
    );
  // The same request (same idempotency key) is still running at Stripe: a concurrent repeat, e.g. while Redis is
  // away and our own lock with it (decision 0020). Not Stripe failing: the caller retries and gets the first answer.
  if (info.statusCode === 409 && info.code === 'idempotency_key_in_use')
    return conflict('request_in_progress', 'the same request is still running at Stripe; retry shortly');
  if (isRetryableStripeError(error))
    return new ApiError(
      HttpStatus.BAD_GATEWAY,
      'stripe_unavailable',
      'Stripe did not answer; retry the request',
    );
  if (info.statusCode === 401 || info.statusCode === 403)
    return new ApiError(HttpStatus.BAD_GATEWAY, 'stripe_misconfigured', 'Stripe refused our credentials');
  return unprocessable(info.code ?? 'stripe_rejected', info.message, { param: info.param });
}
