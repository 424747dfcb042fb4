import { Controller } from '@nestjs/common';
import { PaymentRefunded, PaymentSucceeded, Topics } from '@omnipay/contracts';
import { OnMessages, type ConsumedBatch } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import { planLog } from '../shared/plan-log';
import { InventoryService } from './inventory.service';
import { planInventoryPayments } from './payment-batch';

/**
 * Stock effects of payments (consumer group `inventory`), a partition chunk at a time: lock the holds, lines,
 * returns and stock rows the chunk may touch, decide in memory (`planInventoryPayments`, same result and same
 * `StockChanged` as one event at a time), write back set-based. Failures and cancels of a payment attempt change
 * nothing: the reservation holds until the order is paid, cancelled or expires (the order stays payable), so those
 * kinds, like the `payment.created` of every checkout, are passed over unread.
 */
@Controller()
export class InventoryConsumer {
  constructor(
    private readonly inventory: InventoryService,
    private readonly logger: JsonLogger,
  ) {}

  @OnMessages(Topics.paymentsEvents, { group: 'inventory', types: [PaymentSucceeded, PaymentRefunded] })
  async onPaymentEvents(batch: ConsumedBatch): Promise<void> {
    const events = batch.messages.map((m) => m.envelope);
    const snapshot = await this.inventory.lockForPayments(batch.manager, events);
    const plan = planInventoryPayments(snapshot, events, planLog(this.logger));
    await this.inventory.applyPaymentPlan(batch.manager, plan);
  }
}
