import { Controller } from '@nestjs/common';
import { Topics } from '@omnipay/contracts';
import { OnMessages, type ConsumedBatch } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import { planLog } from '../shared/plan-log';
import { planOrderPayments } from './payment-batch';
import { OrdersService } from './orders.service';

/**
 * Order state from payment events (consumer group `orders`), a partition chunk at a time: lock the chunk's orders
 * (id order), decide in memory with the transition table (`planOrderPayments`, same result as one event at a
 * time), write back in a few set-based statements.
 */
@Controller()
export class OrdersConsumer {
  constructor(
    private readonly orders: OrdersService,
    private readonly logger: JsonLogger,
  ) {}

  @OnMessages(Topics.paymentsEvents, { group: 'orders' })
  async onPaymentEvents(batch: ConsumedBatch): Promise<void> {
    const events = batch.messages.map((m) => m.envelope);
    const ids = [...new Set(events.map((e) => (e.data as { orderId: string }).orderId))];
    const orders = await this.orders.lockPaymentStates(batch.manager, ids);
    const plan = planOrderPayments(orders, events, planLog(this.logger));
    await this.orders.applyPaymentPlan(batch.manager, plan);
  }
}
