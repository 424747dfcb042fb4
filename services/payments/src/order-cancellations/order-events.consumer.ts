import { Controller } from '@nestjs/common';
import { OrderStatusChanged, Topics } from '@omnipay/contracts';
import { OnMessages, isMessage, type ConsumedBatch } from '@omnipay/messaging';
import type { CancelledOrder } from './cancellation-requests';
import { PaymentCancellations } from './payment-cancellations.service';

/**
 * The orders service's transitions, read for one fact: an order became `cancelled`, so its open PaymentIntents
 * are cancelled at Stripe (by `PaymentCancellations`, after this transaction commits).
 */
@Controller()
export class OrderEventsConsumer {
  constructor(private readonly cancellations: PaymentCancellations) {}

  // Every paid order's transition is on this topic too: the `message-subject` header (the new status) lets the
  // transport pass over all but `cancelled` without a transaction. Messages without the header reach the check below.
  @OnMessages(Topics.ordersEvents, { group: 'cancellations', types: [OrderStatusChanged], subjects: ['cancelled'] })
  async handle(batch: ConsumedBatch): Promise<void> {
    const cancelled: CancelledOrder[] = [];
    for (const message of batch.messages) {
      if (!isMessage(message, OrderStatusChanged) || message.envelope.data.to !== 'cancelled') continue;
      const { orderId, reason } = message.envelope.data;
      cancelled.push({ orderId, reason, messageId: message.envelope.id });
    }
    await this.cancellations.request(batch.manager, cancelled);
  }
}
