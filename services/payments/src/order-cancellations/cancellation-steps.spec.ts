import { HttpStatus } from '@nestjs/common';
import { ApiError, conflict, unprocessable } from '../common/http-errors';
import { CREATE_GRACE_MS, afterRefusal, backoffMs, beforeStripe, stripeReason } from './cancellation-steps';

const now = new Date('2026-12-03T10:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

describe('cancelling the payment of a cancelled order', () => {
  it('calls Stripe for an open PaymentIntent, whatever its status', () => {
    for (const status of ['requires_payment_method', 'requires_action', 'failed', 'requires_capture', 'processing'] as const)
      expect(beforeStripe({ status, paymentIntentId: 'pi_1', createdAt: ago(1000) }, now)).toBeUndefined();
  });

  it('ends without a call when the payment is already canceled or succeeded', () => {
    expect(beforeStripe({ status: 'canceled', paymentIntentId: 'pi_1', createdAt: ago(1000) }, now)).toEqual({ done: 'already_canceled' });
    expect(beforeStripe({ status: 'succeeded', paymentIntentId: 'pi_1', createdAt: ago(1000) }, now)).toEqual({ done: 'already_succeeded' });
  });

  it('waits for a create still in flight, and gives up on one that never got a PaymentIntent', () => {
    expect(beforeStripe({ status: 'creating', paymentIntentId: null, createdAt: ago(5000) }, now)).toEqual({
      retry: 'the payment has no PaymentIntent yet',
    });
    expect(beforeStripe({ status: 'creating', paymentIntentId: null, createdAt: ago(CREATE_GRACE_MS + 1) }, now)).toEqual({
      done: 'never_created',
    });
  });

  it('ends on a refusal Stripe would repeat and retries what a retry can cure', () => {
    const moved = unprocessable('payment_intent_unexpected_state', 'You cannot cancel this PaymentIntent because it has a status of processing.');
    expect(afterRefusal(moved)).toEqual({
      done: 'refused',
      detail: 'payment_intent_unexpected_state: You cannot cancel this PaymentIntent because it has a status of processing.',
    });
    expect(afterRefusal(conflict('not_cancelable', 'payment is succeeded; refund it instead'))).toEqual({ done: 'already_succeeded' });
    expect(afterRefusal(new ApiError(HttpStatus.BAD_GATEWAY, 'stripe_unavailable', 'Stripe did not answer'))).toEqual({
      retry: 'Stripe did not answer',
    });
    expect(afterRefusal(new ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'stripe_rate_limited', 'slow down'))).toEqual({ retry: 'slow down' });
    expect(afterRefusal(new Error('connect ECONNREFUSED 127.0.0.1:5432'))).toEqual({ retry: 'connect ECONNREFUSED 127.0.0.1:5432' });
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
