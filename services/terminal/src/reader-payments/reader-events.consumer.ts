import { Controller } from '@nestjs/common';
import { StripeEventReceived, Topics } from '@omnipay/contracts';
import { OnMessage, isMessage, type ConsumedMessage } from '@omnipay/messaging';
import type Stripe from 'stripe';
import { READER_EVENT_TYPES, ReaderEventsService } from './reader-events.service';

/** Stripe's reader events from `stripe.events.v1` (everything else on the topic is payments' business). */
@Controller()
export class ReaderEventsConsumer {
  constructor(private readonly events: ReaderEventsService) {}

  @OnMessage(Topics.stripeEvents, { group: 'terminal' })
  async handle(message: ConsumedMessage): Promise<void> {
    if (!isMessage(message, StripeEventReceived)) return;
    if (!(READER_EVENT_TYPES as readonly string[]).includes(message.envelope.data.stripeType)) return;
    await this.events.apply(message.manager, message.envelope.data.event as unknown as Stripe.Event);
  }
}
