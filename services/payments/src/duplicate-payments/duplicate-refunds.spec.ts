import { ApiError } from '@omnipay/platform';
import { afterRefundError } from './duplicate-refunds.service';

describe('refunding a duplicate payment, after the refund route refused', () => {
  it('ends when there is nothing left or no such payment, waits while payments has not seen the capture, retries outages', () => {
    expect(afterRefundError(new ApiError(422, 'nothing_to_refund', 'nothing left'), 1)).toEqual({ done: 'nothing_left' });
    expect(afterRefundError(new ApiError(404, 'not_found', 'payment x not found'), 1)).toEqual({ done: 'unknown_payment' });
    expect(afterRefundError(new ApiError(409, 'not_refundable', 'payment is processing'), 3)).toEqual({ retry: 'payment is processing' });
    expect(afterRefundError(new ApiError(409, 'not_refundable', 'payment is processing'), 20)).toEqual({
      done: 'refused',
      detail: 'not_refundable: payment is processing',
    });
    expect(afterRefundError(new ApiError(502, 'stripe_unavailable', 'Stripe did not answer'), 50)).toEqual({
      retry: 'stripe_unavailable: Stripe did not answer',
    });
    expect(afterRefundError(new Error('connect ECONNREFUSED'), 1)).toEqual({ retry: 'connect ECONNREFUSED' });
    expect(afterRefundError(new ApiError(422, 'charge_disputed', 'the charge is disputed'), 1)).toEqual({
      done: 'refused',
      detail: 'charge_disputed: the charge is disputed',
    });
  });
});
