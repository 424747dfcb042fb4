import type { JsonLogger } from '@omnipay/observability';
import type { OutboxService, UnitOfWork } from '@omnipay/messaging';
import type Stripe from 'stripe';
import type { DataSource } from 'typeorm';
import type { CustomersService } from '../customers/customers.service';
import type { PaymentStateService } from './payment-state.service';
import type { Payment } from './payment.model';
import type { PaymentsRepository } from './payments.repository';
import { PaymentsService } from './payments.service';

/** A payment waiting for its card, and Stripe recording the idempotency keys of cancels. */
function service() {
  const payment = {
    id: 'pay_1',
    paymentIntentId: 'pi_1',
    status: 'requires_payment_method',
    createdAt: new Date(),
    updatedAt: new Date(),
  } as Payment;
  const keys: string[] = [];
  const stripe = {
    paymentIntents: {
      cancel: jest.fn(async (_id: string, _params: unknown, opts: { idempotencyKey: string }) => {
        keys.push(opts.idempotencyKey);
        return { id: 'pi_1', status: 'canceled' };
      }),
    },
  } as unknown as Stripe;
  const payments = new PaymentsService(
    { manager: {} } as DataSource,
    { run: async (fn: (m: unknown) => unknown) => fn({}) } as unknown as UnitOfWork,
    {} as OutboxService,
    { byId: async () => payment } as unknown as PaymentsRepository,
    { applyPaymentIntent: async () => payment } as unknown as PaymentStateService,
    {} as CustomersService,
    {} as JsonLogger,
    stripe,
  );
  return { payments, keys };
}

describe('cancelling a PaymentIntent', () => {
  it('gives cancels with different reasons different Stripe keys, so the route and the cancellation worker never clash', async () => {
    const { payments, keys } = service();
    await payments.cancel('pay_1', 'requested_by_customer');
    await payments.cancel('pay_1', 'abandoned');
    await payments.cancel('pay_1');
    expect(new Set(keys).size).toBe(3);
  });

  it('repeats the key for the same cancel, and takes a new one for a later attempt', async () => {
    const { payments, keys } = service();
    await payments.cancel('pay_1', 'abandoned');
    await payments.cancel('pay_1', 'abandoned');
    await payments.cancel('pay_1', 'abandoned', 2);
    expect(keys[0]).toBe(keys[1]);
    expect(keys[2]).not.toBe(keys[0]);
  });
});
