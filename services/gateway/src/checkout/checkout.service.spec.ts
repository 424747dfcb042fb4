import type { Claims } from '@omnipay/auth';
import type { JsonLogger } from '@omnipay/observability';
import type { UpstreamClient } from '../upstream/upstream.client';
import { CheckoutService } from './checkout.service';
import type { CheckoutBody } from './dto/checkout.dto';

/** Orders and payments as checkout calls them, recording the Idempotency-Key of each call. */
function checkout() {
  const keys: Record<string, string | undefined> = {};
  const upstream = {
    expectOk: async (
      service: string,
      method: string,
      _path: string,
      _body?: unknown,
      headers?: Record<string, string>,
    ) => {
      if (method === 'GET') return { publishableKey: 'pk_test_1' };
      keys[service] = headers?.['idempotency-key'];
      return service === 'orders'
        ? { id: 'ord_1', status: 'pending_payment', total: 2500, currency: 'usd', storeId: null }
        : { paymentId: 'pay_1', paymentIntentId: 'pi_1', clientSecret: 'pi_1_secret_x' };
    },
  } as unknown as UpstreamClient;
  return { service: new CheckoutService(upstream, {} as JsonLogger), keys };
}

const customer = { sub: 'cust_42', role: 'customer', iat: 0, exp: 1 } as Claims;
const body = {
  currency: 'usd',
  fulfilment: 'ship',
  lines: [{ sku: 'MUG', quantity: 1 }],
} as unknown as CheckoutBody;

describe('checkout Idempotency-Keys downstream', () => {
  it('derives a key per step from the caller and the client key', async () => {
    const { service, keys } = checkout();
    await service.checkout(customer, body, 'k-1');
    expect(keys).toEqual({ orders: 'checkout:cust_42:k-1:order', payments: 'checkout:cust_42:k-1:payment' });
  });

  it('keeps the keys of the longest client key the API takes within what orders and payments accept, one per step', async () => {
    for (const length of [230, 232, 255]) {
      const { service, keys } = checkout();
      await service.checkout(customer, body, 'k'.repeat(length));
      expect(keys.orders!.length).toBeLessThanOrEqual(255);
      expect(keys.payments!.length).toBeLessThanOrEqual(255);
      expect(keys.orders).not.toBe(keys.payments);
      // The same request again derives the same keys (a retry finds the same order and PaymentIntent).
      const again = checkout();
      await again.service.checkout(customer, body, 'k'.repeat(length));
      expect(again.keys).toEqual(keys);
    }
  });
});
