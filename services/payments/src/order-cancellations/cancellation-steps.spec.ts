import { HttpStatus } from '@nestjs/common';
import Stripe from 'stripe';
import { ApiError, conflict, fromStripeError } from '../common/http-errors';
import {
  CREATE_GRACE_MS,
  MAX_REFUSED_ATTEMPTS,
  NO_INTENT_YET,
  afterFailedRead,
  afterRefresh,
  afterRefusal,
  backoffMs,
  beforeStripe,
  stripeReason,
} from './cancellation-steps';

const now = new Date('2026-12-03T10:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

/** What the Stripe SDK throws for an HTTP answer, turned into our API error the way `callStripe` does. */
function stripeAnswer(statusCode: number, code: string, message: string): unknown {
  const raw = { type: statusCode === 429 ? 'rate_limit_error' : 'invalid_request_error', code, message, statusCode };
  const error = Stripe.errors.StripeError.generate(raw as never);
  return fromStripeError(error) ?? error;
}

describe('cancelling the payment of a cancelled order', () => {
  it('calls Stripe for an open PaymentIntent, whatever its status', () => {
    for (const status of ['requires_payment_method', 'requires_action', 'failed', 'requires_capture', 'processing'] as const)
      expect(beforeStripe({ status, paymentIntentId: 'pi_1', createdAt: ago(1000) }, now)).toBeUndefined();
  });

  it('ends without a call when the payment is already canceled or succeeded', () => {
    expect(beforeStripe({ status: 'canceled', paymentIntentId: 'pi_1', createdAt: ago(1000) }, now)).toEqual({ done: 'already_canceled' });
    expect(beforeStripe({ status: 'succeeded', paymentIntentId: 'pi_1', createdAt: ago(1000) }, now)).toEqual({ done: 'already_succeeded' });
  });

  it("waits for a create that may still get its PaymentIntent, until Stripe's idempotency window has passed", () => {
    expect(beforeStripe({ status: 'creating', paymentIntentId: null, createdAt: ago(23 * 3_600_000) }, now)).toEqual({ retry: NO_INTENT_YET });
    expect(beforeStripe({ status: 'creating', paymentIntentId: null, createdAt: ago(CREATE_GRACE_MS + 1) }, now)).toEqual({
      done: 'never_created',
    });
  });

  it('does not wait for a PaymentIntent Stripe refused to create, and still cancels one a repeat created after all', () => {
    const refused = { code: 'amount_too_large', message: 'Amount must be no more than $999,999.99', at: '2026-12-03T10:00:00Z' };
    expect(beforeStripe({ status: 'creating', paymentIntentId: null, createdAt: ago(1000), createRefused: refused }, now)).toEqual({
      done: 'never_created',
    });
    expect(beforeStripe({ status: 'requires_payment_method', paymentIntentId: 'pi_1', createdAt: ago(1000), createRefused: refused }, now)).toBeUndefined();
  });

  it("reads the PaymentIntent again when Stripe refuses the cancel, and retries what a retry can cure", () => {
    const moved = stripeAnswer(400, 'payment_intent_unexpected_state', 'You cannot cancel this PaymentIntent because it has a status of processing.');
    expect(afterRefusal(moved)).toEqual({
      refused: 'payment_intent_unexpected_state: You cannot cancel this PaymentIntent because it has a status of processing.',
    });
    expect(afterRefusal(stripeAnswer(429, 'rate_limit', 'Too many requests'))).toEqual({
      retry: 'Stripe is limiting our request rate; retry shortly with the same Idempotency-Key',
    });
    expect(afterRefusal(stripeAnswer(500, 'api_error', 'Something went wrong'))).toEqual({ retry: 'Stripe did not answer; retry the request' });
    expect(afterRefusal(conflict('not_cancelable', 'payment is succeeded; refund it instead'))).toEqual({ done: 'already_succeeded' });
    expect(afterRefusal(conflict('not_ready', 'the payment has no PaymentIntent yet'))).toEqual({ retry: NO_INTENT_YET });
    expect(afterRefusal(new ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'database_unavailable', 'db down'))).toEqual({ retry: 'db down' });
    expect(afterRefusal(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toEqual({ retry: 'connect ECONNREFUSED 127.0.0.1:5432' });
  });

  it('ends a refused cancel by what the PaymentIntent became, and tries an open one again, for a while', () => {
    expect(afterRefresh('succeeded', 'unexpected state', 1)).toEqual({ done: 'already_succeeded' });
    expect(afterRefresh('canceled', 'unexpected state', 1)).toEqual({ done: 'already_canceled' });
    expect(afterRefresh('processing', 'unexpected state', 1)).toEqual({
      retry: 'Stripe refused to cancel a PaymentIntent in processing (unexpected state)',
      stripeRefused: true,
    });
    expect(afterRefresh('processing', 'unexpected state', MAX_REFUSED_ATTEMPTS)).toEqual({
      done: 'refused',
      detail: 'Stripe refused to cancel a PaymentIntent in processing (unexpected state)',
    });
  });

  it('ends a refused cancel whose PaymentIntent Stripe cannot read either, and retries a read that failed for a passing reason', () => {
    expect(afterFailedRead(stripeAnswer(404, 'resource_missing', 'No such payment_intent'), 'resource_missing: No such payment_intent')).toEqual({
      done: 'refused',
      detail: 'resource_missing: No such payment_intent; reading the PaymentIntent: resource_missing: No such payment_intent',
    });
    expect(afterFailedRead(stripeAnswer(500, 'api_error', 'boom'), 'x')).toEqual({ retry: 'Stripe did not answer; retry the request' });
  });

  it("tells Stripe an expired order was abandoned and any other cancellation was the customer's", () => {
    expect(stripeReason('payment_expired')).toBe('abandoned');
    expect(stripeReason('cancelled_by_staff')).toBe('requested_by_customer');
    expect(stripeReason(null)).toBe('requested_by_customer');
  });

  it('backs off from 2 s to at most 5 min', () => {
    expect([1, 2, 3].map(backoffMs)).toEqual([2000, 4000, 8000]);
    expect(backoffMs(50)).toBe(300_000);
  });
});
