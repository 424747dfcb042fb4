import { Controller } from '@nestjs/common';
import { StripeEventReceived, Topics } from '@omnipay/contracts';
import { OnMessages, isMessage, type ConsumedBatch } from '@omnipay/messaging';
import { newContext, runWithContext } from '@omnipay/observability';
import type Stripe from 'stripe';
import { READER_EVENT_TYPES, StripeEventScope } from '@omnipay/stripe';
import { ReaderEventsService } from './reader-events.service';

const READER_EVENTS = new Set<string>(READER_EVENT_TYPES);

/**
 * Stripe's reader events from `stripe.events.v1`. Everything else on the topic is payments' business, and it is
 * nearly all of the topic: `subjects` passes it over by its header, unparsed and with no transaction (it cost
 * terminal ~1.2 CPU ms per online payment before). Reader events are rare and are applied one at a time, each
 * in its own context so its logs and messages carry its correlation id.
 */
@Controller()
export class ReaderEventsConsumer {
  constructor(
    private readonly events: ReaderEventsService,
    private readonly scope: StripeEventScope,
  ) {}

  @OnMessages(Topics.stripeEvents, { group: 'terminal', subjects: READER_EVENT_TYPES })
  async handle(batch: ConsumedBatch): Promise<void> {
    for (const message of batch.messages) {
      if (!isMessage(message, StripeEventReceived) || !READER_EVENTS.has(message.envelope.data.stripeType)) continue;
      const event = message.envelope.data.event as unknown as Stripe.Event;
      if (!this.scope.admits(event, 'terminal')) continue;
      const ctx = newContext({
        correlationId: message.envelope.correlationId,
        causationId: message.envelope.id,
        traceparent: message.traceparent,
      });
      await runWithContext(ctx, () => this.events.apply(batch.manager, event));
      batch.progress?.(); // a failure event reads the reader from Stripe: a slow Stripe is not a hung consumer
    }
  }
}
