import { Controller } from '@nestjs/common';
import {
  PaymentAuthorized,
  PaymentCanceled,
  PaymentCreated,
  PaymentDisputed,
  PaymentFailed,
  PaymentRefunded,
  PaymentRequiresAction,
  PaymentSucceeded,
  Topics,
} from '@omnipay/contracts';
import { OnMessage, isMessage, type ConsumedMessage } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import { paymentMatches } from '../shared/payment-check';
import { REFUNDABLE, UNPAID } from './order-status';
import { OrdersService } from './orders.service';

/**
 * Order state from payment events (consumer group `orders`). Events may come late, twice, or out of order: the
 * transition table refuses anything that would move an order backwards, and refunds are applied from Stripe's
 * absolute `totalRefunded`, so the final state does not depend on arrival order.
 */
@Controller()
export class OrdersConsumer {
  constructor(
    private readonly orders: OrdersService,
    private readonly logger: JsonLogger,
  ) {}

  @OnMessage(Topics.paymentsEvents, { group: 'orders' })
  async onPaymentEvent(message: ConsumedMessage): Promise<void> {
    const { manager, envelope } = message;
    const { orderId } = envelope.data as { orderId: string };
    const order = await this.orders.lock(manager, orderId);
    if (!order) {
      this.logger.pino.warn({ orderId, type: envelope.type }, 'payment event for an unknown order; ignored');
      return;
    }
    const by = { actor: 'payments', messageId: envelope.id };
    const unpaid = UNPAID.includes(order.status);

    if (
      isMessage(message, PaymentCreated) ||
      isMessage(message, PaymentRequiresAction) ||
      isMessage(message, PaymentAuthorized)
    ) {
      if (!unpaid) return; // an attempt's progress is irrelevant once the order is paid, flagged or cancelled
      const d = message.envelope.data;
      const status = isMessage(message, PaymentAuthorized)
        ? 'authorized'
        : isMessage(message, PaymentRequiresAction)
          ? 'requires_action'
          : 'created';
      await this.orders.recordPayment(manager, orderId, {
        payment_id: d.paymentId,
        payment_intent_id: d.paymentIntentId,
        payment_status: status,
      });
      // A new attempt after a failure: the order is payable again.
      await this.orders.transition(manager, order, {
        to: 'pending_payment',
        reason: 'new_payment_attempt',
        ...by,
      });
      return;
    }

    if (isMessage(message, PaymentSucceeded)) {
      const d = message.envelope.data;
      if (order.payment_status === 'succeeded') {
        if (order.payment_intent_id !== d.paymentIntentId) {
          this.logger.pino.error(
            { orderId, paymentIntentId: d.paymentIntentId, first: order.payment_intent_id },
            'second successful payment for one order; needs a refund',
          );
        }
        return;
      }
      await this.orders.recordPayment(manager, orderId, {
        payment_id: d.paymentId,
        payment_intent_id: d.paymentIntentId,
        payment_status: 'succeeded',
        amount_paid: d.amountReceived,
        paid_currency: d.currency,
        amount_captured: Math.max(Number(order.amount_captured ?? 0), d.amountReceived),
      });
      if (paymentMatches({ total: Number(order.total), currency: order.currency }, d)) {
        const reason = order.status === 'cancelled' ? 'paid_after_cancellation' : 'payment_succeeded';
        await this.orders.transition(manager, order, { to: 'paid', reason, ...by });
      } else {
        const reason = `payment ${d.amountReceived} ${d.currency} (amount ${d.amount}) differs from order ${order.total} ${order.currency}`;
        this.logger.pino.warn(
          { orderId, paymentIntentId: d.paymentIntentId },
          'payment does not match the order: flagged',
        );
        await this.orders.transition(manager, order, { to: 'payment_mismatch', reason, ...by });
      }
      // A refund that overtook this success is applied now.
      await this.applyRefundState(
        manager,
        order,
        Number(order.amount_refunded),
        Math.max(Number(order.amount_captured ?? 0), d.amountReceived),
        by,
      );
      return;
    }

    if (isMessage(message, PaymentFailed) || isMessage(message, PaymentCanceled)) {
      if (!unpaid) return;
      const d = message.envelope.data;
      const failed = isMessage(message, PaymentFailed) ? message.envelope.data : null;
      await this.orders.recordPayment(manager, orderId, {
        payment_id: d.paymentId,
        payment_intent_id: d.paymentIntentId,
        payment_status: failed ? 'failed' : 'canceled',
        last_payment_error: failed
          ? { code: failed.code, declineCode: failed.declineCode, message: failed.message }
          : null,
      });
      const reason = failed ? (failed.declineCode ?? failed.code ?? 'payment_failed') : 'payment_canceled';
      await this.orders.transition(manager, order, { to: 'payment_failed', reason, ...by });
      return;
    }

    if (isMessage(message, PaymentRefunded)) {
      const d = message.envelope.data;
      const refunded = Math.max(Number(order.amount_refunded), d.totalRefunded);
      const captured = Math.max(Number(order.amount_captured ?? 0), d.amountCaptured);
      await this.orders.recordPayment(manager, orderId, {
        amount_refunded: d.totalRefunded,
        amount_captured: captured,
      });
      await this.applyRefundState(manager, order, refunded, d.fullyRefunded ? refunded : captured, by);
      return;
    }

    if (isMessage(message, PaymentDisputed)) {
      await this.orders.recordPayment(manager, orderId, { dispute_id: message.envelope.data.disputeId });
      return;
    }
  }

  private async applyRefundState(
    manager: ConsumedMessage['manager'],
    order: Parameters<OrdersService['transition']>[1],
    refunded: number,
    captured: number,
    by: { actor: string; messageId: string },
  ): Promise<void> {
    if (refunded <= 0 || !REFUNDABLE.includes(order.status)) return;
    const to = captured > 0 && refunded >= captured ? 'refunded' : 'partially_refunded';
    await this.orders.transition(manager, order, {
      to,
      reason: `refunded ${refunded} of ${captured} ${order.currency}`,
      ...by,
    });
  }
}
