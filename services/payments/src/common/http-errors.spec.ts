import Stripe from 'stripe';
import { fromStripeError } from './http-errors';

// As the SDK builds them from Stripe's answers (it picks the class from the status and the type).
const stripeError = (raw: Record<string, unknown>) => Stripe.errors.StripeError.generate(raw as never);

describe('fromStripeError (payments)', () => {
  it('answers a key reused with other parameters with 409 idempotency_conflict, marked as our bug (logged at error level)', () => {
    const error = fromStripeError(stripeError({ statusCode: 400, type: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters' }));
    expect({ status: error?.getStatus(), code: error?.code, ourBug: error?.ourBug }).toEqual({ status: 409, code: 'idempotency_conflict', ourBug: true });
  });

  it("answers a decline with 402 and its decline code, not as our bug", () => {
    const error = fromStripeError(stripeError({ statusCode: 402, type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'declined' }));
    expect({ status: error?.getStatus(), code: error?.code, ourBug: error?.ourBug }).toEqual({ status: 402, code: 'card_declined', ourBug: false });
  });
});
