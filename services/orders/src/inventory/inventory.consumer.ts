import { Controller } from '@nestjs/common';
import { PaymentRefunded, PaymentSucceeded, Topics } from '@omnipay/contracts';
import { OnMessage, isMessage, type ConsumedMessage } from '@omnipay/messaging';
import { serialiseConsumer } from '../shared/sql';
import { InventoryService } from './inventory.service';

/**
 * Stock effects of payments (consumer group `inventory`): commit on success, restock returns on refunds.
 * Failures and cancels of a payment attempt change nothing: the reservation holds until the order is paid,
 * cancelled or expires (the order stays payable).
 */
@Controller()
export class InventoryConsumer {
  constructor(private readonly inventory: InventoryService) {}

  @OnMessage(Topics.paymentsEvents, { group: 'inventory' })
  async onPaymentEvent(message: ConsumedMessage): Promise<void> {
    if (isMessage(message, PaymentSucceeded)) {
      await serialiseConsumer(message.manager, 'inventory');
      const d = message.envelope.data;
      await this.inventory.paymentSucceeded(message.manager, d.orderId, d);
    } else if (isMessage(message, PaymentRefunded)) {
      await serialiseConsumer(message.manager, 'inventory');
      const d = message.envelope.data;
      await this.inventory.refunded(message.manager, {
        orderId: d.orderId,
        refundId: d.refundId,
        fullyRefunded: d.fullyRefunded,
        returnedItems: d.returnedItems,
        returnStoreId: d.returnStoreId,
      });
    }
  }
}
