import { z } from 'zod';
import { defineMessage } from '../define-message';
import { isoTimestamp } from '../primitives';
import { Topics } from '../topics';

/**
 * A verified Stripe webhook event, as the webhooks service stored it. `event` is Stripe's own event object with
 * one change: any `client_secret` is removed (a Kafka message must never carry one; the stored raw payload keeps
 * it byte-exact). The other fields are what routing and dedup need.
 */
export const StripeEventReceived = defineMessage({
  topic: Topics.stripeEvents,
  type: 'stripe.event_received',
  version: 1,
  schema: z.object({
    stripeEventId: z.string().startsWith('evt_'),
    stripeType: z.string().min(1),
    objectId: z.string().min(1),
    /** The PaymentIntent this event is about, when there is one: the partition key. */
    paymentIntentId: z.string().startsWith('pi_').nullable(),
    apiVersion: z.string().nullable(),
    livemode: z.boolean(),
    /** Stripe's `created`, unix seconds. */
    created: z.number().int(),
    receivedAt: isoTimestamp,
    event: z.record(z.unknown()),
  }),
  key: (d) => d.paymentIntentId ?? d.objectId,
  subject: (d) => d.stripeType,
});
