import { Injectable } from '@nestjs/common';
import type { Claims } from '@omnipay/auth';
import { UpstreamClient } from '../upstream/upstream.client';
import type { CheckoutBody, CheckoutResponse } from './dto/checkout.dto';

interface PlacedOrder {
  id: string;
  status: string;
  total: number;
  currency: string;
  storeId: string;
}

interface CreatedPayment {
  paymentId: string;
  paymentIntentId: string;
  clientSecret: string;
}

/**
 * Checkout in one call: the orders service prices the order and reserves stock; payments creates its
 * PaymentIntent for exactly that total. The downstream Idempotency-Keys derive from the client's, so a retry
 * after a crash anywhere in between finds the same order and the same PaymentIntent.
 */
@Injectable()
export class CheckoutService {
  constructor(private readonly upstream: UpstreamClient) {}

  async checkout(user: Claims, body: CheckoutBody, idempotencyKey: string | undefined): Promise<CheckoutResponse> {
    const channel = user.channel === 'app' ? 'app' : 'web';
    const keyFor = (step: string) => (idempotencyKey ? { 'idempotency-key': `checkout:${user.sub}:${idempotencyKey}:${step}` } : undefined);
    const order = await this.upstream.expectOk<PlacedOrder>(
      'orders',
      'POST',
      '/orders',
      { channel, customerId: user.sub, fulfilment: body.fulfilment, storeId: body.storeId, currency: body.currency, lines: body.lines },
      keyFor('order'),
    );
    const [payment, config] = await Promise.all([
      this.upstream.expectOk<CreatedPayment>(
        'payments',
        'POST',
        '/payments',
        {
          orderId: order.id,
          amount: order.total,
          currency: order.currency,
          channel,
          storeId: order.storeId,
          customerId: user.sub,
          attempt: 1,
          ...(channel === 'app' && body.saveCard ? { setupFutureUsage: 'on_session' } : {}),
        },
        keyFor('payment'),
      ),
      this.publishableKey(),
    ]);
    return {
      orderId: order.id,
      status: order.status,
      amount: order.total,
      currency: order.currency,
      paymentId: payment.paymentId,
      paymentIntentId: payment.paymentIntentId,
      clientSecret: payment.clientSecret,
      publishableKey: config,
    };
  }

  private cachedKey?: string;

  async publishableKey(): Promise<string> {
    this.cachedKey ??= (await this.upstream.expectOk<{ publishableKey: string }>('payments', 'GET', '/config/publishable-key')).publishableKey;
    return this.cachedKey;
  }
}
