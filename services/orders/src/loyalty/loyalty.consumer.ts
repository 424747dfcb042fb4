import { Controller } from '@nestjs/common';
import { Topics } from '@omnipay/contracts';
import { OnMessages, type ConsumedBatch } from '@omnipay/messaging';
import { POINTS_EVENTS } from './payment-batch';
import { LoyaltyService } from './loyalty.service';

/**
 * Points from payments (consumer group `loyalty`), for every channel alike, a partition chunk at a time with
 * set-based SQL (`LoyaltyService.applyPaymentEvents`; same ledger and `PointsChanged` as one event at a time).
 * Only the kinds that move points are read; the others (one `payment.created` per checkout) are passed over.
 */
@Controller()
export class LoyaltyConsumer {
  constructor(private readonly loyalty: LoyaltyService) {}

  @OnMessages(Topics.paymentsEvents, { group: 'loyalty', types: POINTS_EVENTS })
  async onPaymentEvents(batch: ConsumedBatch): Promise<void> {
    await this.loyalty.applyPaymentEvents(
      batch.manager,
      batch.messages.map((m) => m.envelope),
    );
  }
}
