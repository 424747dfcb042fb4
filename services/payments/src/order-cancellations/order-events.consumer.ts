import { Controller } from '@nestjs/common';
import { OrderPaymentDuplicated, OrderStatusChanged, Topics } from '@omnipay/contracts';
import { OnMessages, isMessage, type ConsumedBatch } from '@omnipay/messaging';
import { DuplicatePaymentRefunds, type DuplicatePayment } from '../duplicate-payments/duplicate-refunds.service';
import type { CancelledOrder } from './cancellation-requests';
import { PaymentCancellations } from './payment-cancellations.service';

/**
 * The orders service's facts payments acts on: an order became `cancelled` (its open PaymentIntents are cancelled
 * at Stripe, decision 0014), and a payment paid an order a second time (it is refunded, decision 0018). The work
 * at Stripe happens in workers, after this transaction commits.
 */
@Controller()
export class OrderEventsConsumer {
  constructor(
    private readonly cancellations: PaymentCancellations,
    private readonly duplicates: DuplicatePaymentRefunds,
  ) {}

  // Every paid order's transition is on this topic too: the `message-subject` header (the new status, or
  // `payment_duplicated`) lets the transport pass over the rest without a transaction. Messages without the header
  // reach the checks below.
  @OnMessages(Topics.ordersEvents, {
    group: 'cancellations',
    types: [OrderStatusChanged, OrderPaymentDuplicated],
    subjects: ['cancelled', 'payment_duplicated'],
  })
  async handle(batch: ConsumedBatch): Promise<void> {
    const cancelled: CancelledOrder[] = [];
    const duplicated: DuplicatePayment[] = [];
    for (const message of batch.messages) {
      if (isMessage(message, OrderStatusChanged) && message.envelope.data.to === 'cancelled') {
        const { orderId, reason } = message.envelope.data;
        cancelled.push({ orderId, reason, messageId: message.envelope.id });
      } else if (isMessage(message, OrderPaymentDuplicated)) {
        const { orderId, paymentId, keptPaymentId } = message.envelope.data;
        duplicated.push({ orderId, paymentId, keptPaymentId, messageId: message.envelope.id });
      }
    }
    await this.cancellations.request(batch.manager, cancelled);
    await this.duplicates.request(batch.manager, duplicated);
  }
}
