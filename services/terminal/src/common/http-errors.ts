import { HttpStatus } from '@nestjs/common';
import { isIdempotencyMismatch, isRetryableStripeError, stripeErrorInfo, stripeIdempotencyErrors } from '@omnipay/stripe';
import { ApiError, badGateway, conflict, unprocessable } from '@omnipay/platform';

// The error shape and input parsing are shared with the other internal APIs (libs/platform).
export { ApiError, badGateway, conflict, notFound, parseInput, unprocessable } from '@omnipay/platform';

/**
 * A Stripe refusal as an HTTP answer: busy reader 409, offline reader 409, the same request still running 409, Stripe
 * refusals 422, Stripe rate limits 503, Stripe down 502.
 */
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
  if (info.code === 'terminal_reader_busy')
    return conflict('reader_busy', 'the reader is busy with another action; cancel it or wait');
  if (info.code === 'terminal_reader_offline') return conflict('reader_offline', 'the reader is offline');
  if (info.statusCode === 401 || info.statusCode === 403)
    return badGateway('stripe_misconfigured', 'Stripe refused our credentials');
  if (info.statusCode === 429)
    return new ApiError(
      HttpStatus.SERVICE_UNAVAILABLE,
      'stripe_rate_limited',
      'Stripe is limiting our request rate; retry shortly',
    );
  // The same request (same idempotency key) is still running at Stripe: a concurrent repeat of ours. Not Stripe
  // failing, so not a 502: the caller retries and meets the first request's outcome, as payments answers it.
  if (info.statusCode === 409 && info.code === 'idempotency_key_in_use')
    return conflict('request_in_progress', 'the same request is still running at Stripe; retry shortly');
  if (isRetryableStripeError(error))
    return badGateway('stripe_unavailable', 'Stripe did not answer; retry the request');
  return unprocessable(info.code ?? 'stripe_rejected', info.message, { param: info.param });
}
