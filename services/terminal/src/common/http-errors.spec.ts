import Stripe from 'stripe';
import { fromStripeError } from './http-errors';

// As the SDK builds them from Stripe's answers (it picks the class from the status and the type).
const stripeError = (raw: Record<string, unknown>) => Stripe.errors.StripeError.generate(raw as never);

describe('fromStripeError (terminal)', () => {
  it('answers a repeat that met the same request still running at Stripe with 409 request_in_progress, not 502', () => {
    const error = fromStripeError(
      stripeError({ statusCode: 409, type: 'invalid_request_error', code: 'idempotency_key_in_use', message: 'in use' }),
    );
    expect({ status: error?.getStatus(), code: error?.code }).toEqual({ status: 409, code: 'request_in_progress' });
  });

  it('answers a key reused with other parameters with 409 idempotency_conflict, marked as our bug (logged at error level)', () => {
    const error = fromStripeError(stripeError({ statusCode: 400, type: 'idempotency_error', message: 'Keys for idempotent requests can only be used with the same parameters' }));
    expect({ status: error?.getStatus(), code: error?.code, ourBug: error?.ourBug }).toEqual({ status: 409, code: 'idempotency_conflict', ourBug: true });
  });

  it('answers a busy reader with 409 reader_busy and Stripe failing with 502', () => {
    const busy = fromStripeError(stripeError({ statusCode: 400, type: 'invalid_request_error', code: 'terminal_reader_busy', message: 'busy' }));
    expect({ status: busy?.getStatus(), code: busy?.code }).toEqual({ status: 409, code: 'reader_busy' });
    const down = fromStripeError(stripeError({ statusCode: 500, type: 'api_error', message: 'boom' }));
    expect({ status: down?.getStatus(), code: down?.code }).toEqual({ status: 502, code: 'stripe_unavailable' });
  });

  it('leaves errors that are not Stripe errors alone', () => {
    expect(fromStripeError(new Error('ECONNRESET'))).toBeNull();
  });
});
