import { Controller } from '@nestjs/common';
import { PaymentDisputed, PaymentRefunded, PaymentSucceeded, Topics } from '@omnipay/contracts';
import { OnMessage, isMessage, type ConsumedMessage } from '@omnipay/messaging';
import { serialiseConsumer } from '../shared/sql';
import { LoyaltyService } from './loyalty.service';

/** Points from payments (consumer group `loyalty`), for every channel alike. */
@Controller()
export class LoyaltyConsumer {
  constructor(private readonly loyalty: LoyaltyService) {}

  @OnMessage(Topics.paymentsEvents, { group: 'loyalty' })
  async onPaymentEvent(message: ConsumedMessage): Promise<void> {
    const { manager, envelope } = message;
    if (
      !isMessage(message, PaymentSucceeded) &&
      !isMessage(message, PaymentRefunded) &&
      !isMessage(message, PaymentDisputed)
    )
      return;
    await serialiseConsumer(manager, 'loyalty');
    if (isMessage(message, PaymentSucceeded)) {
      await this.loyalty.paymentSucceeded(manager, envelope.id, message.envelope.data);
    } else if (isMessage(message, PaymentRefunded)) {
      await this.loyalty.refunded(manager, envelope.id, message.envelope.data);
    } else if (isMessage(message, PaymentDisputed)) {
      await this.loyalty.disputed(manager, envelope.id, message.envelope.data);
    }
  }
}
