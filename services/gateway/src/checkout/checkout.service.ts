import { HttpException, Injectable } from '@nestjs/common';
import type { Claims } from '@omnipay/auth';
import { JsonLogger } from '@omnipay/observability';
import { UpstreamClient } from '../upstream/upstream.client';
import type { CheckoutBody, CheckoutResponse } from './dto/checkout.dto';
import { callerRef, downstreamKey } from '../common/caller-ref';

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
 * Answers of payments that no retry changes (invalid, declined, refused by Stripe), after which checkout cancels the
 * order. A 409 is not one: a retry in flight, or `order_cancelled` (the order is cancelled already; a client starts a
 * new checkout with a new Idempotency-Key).
 */
const REFUSED_FOR_GOOD = [400, 402, 422];

/**
 * Checkout in one call: the orders service prices the order and reserves stock; payments creates its
 * PaymentIntent for exactly that total. The downstream Idempotency-Keys derive from the client's, so a retry
 * after a crash anywhere in between finds the same order and the same PaymentIntent.
 */
@Injectable()
export class CheckoutService {
  constructor(
    private readonly upstream: UpstreamClient,
    private readonly logger: JsonLogger,
  ) {}

  async checkout(user: Claims, body: CheckoutBody, idempotencyKey: string | undefined): Promise<CheckoutResponse> {
    const channel = user.channel === 'app' ? 'app' : 'web';
    const keyFor = (step: string) => (idempotencyKey ? { 'idempotency-key': downstreamKey(`checkout:${callerRef(user.sub)}:${idempotencyKey}:${step}`) } : undefined);
    const order = await this.upstream.expectOk<PlacedOrder>(
      'orders',
      'POST',
      '/orders',
      { channel, customerId: user.sub, fulfilment: body.fulfilment, storeId: body.storeId, currency: body.currency, lines: body.lines },
      keyFor('order'),
    );
    const [payment, config] = await Promise.all([
      this.createPayment(order, channel, user, body, keyFor('payment')),
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

  /**
   * A PaymentIntent that Stripe (or payments) refused for good cancels the order at once, so its stock is not held
   * until the payment deadline. A timeout or an outage is ambiguous (the intent may exist): the order stays
   * payable, and a retry with the same Idempotency-Key finds it and its intent.
   */
  private async createPayment(
    order: PlacedOrder,
    channel: 'app' | 'web',
    user: Claims,
    body: CheckoutBody,
    idempotency: Record<string, string> | undefined,
  ): Promise<CreatedPayment> {
    try {
      return await this.upstream.expectOk<CreatedPayment>(
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
        idempotency,
      );
    } catch (error) {
      if (error instanceof HttpException && REFUSED_FOR_GOOD.includes(error.getStatus())) {
        const code = (error.getResponse() as { error?: { code?: string } }).error?.code ?? 'refused';
        await this.upstream
          .call('orders', 'POST', `/orders/${encodeURIComponent(order.id)}/cancel`, {
            actor: 'system:checkout',
            reason: `payment_not_created: ${code}`,
          })
          .catch((cancelError: unknown) =>
            this.logger.pino.warn({ err: cancelError, orderId: order.id }, 'could not cancel an order whose payment was refused; it expires'),
          );
      }
      throw error;
    }
  }

  private cachedKey?: string;

  async publishableKey(): Promise<string> {
    this.cachedKey ??= (await this.upstream.expectOk<{ publishableKey: string }>('payments', 'GET', '/config/publishable-key')).publishableKey;
    return this.cachedKey;
  }
}
