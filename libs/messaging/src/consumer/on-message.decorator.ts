import { EventPattern } from '@nestjs/microservices';
import type { MessageDefinition, Topic } from '@omnipay/contracts';

export interface HandlerExtras {
  topic: Topic;
  /** Consumer group within the service (`<prefix>.<service>.<group>`); default: the service's own group. */
  group?: string;
  /** The handler takes a `ConsumedBatch` (set-based SQL for a whole chunk) instead of one message. */
  batch?: boolean;
  /** Only messages with one of these `message-subject` headers (or none) reach the handler; see `OnMessages`. */
  subjects?: readonly string[];
  /** Only messages with one of these `message-type` headers (or none) reach the handler; see `OnMessages`. */
  types?: readonly string[];
}

/**
 * Marks a method of a `*.consumer.ts` class as the handler of every message on `topic` for one consumer group.
 * The method receives a `ConsumedMessage` and must write its effects through `message.manager`: that is the
 * transaction in which the inbox records the message, so an effect and its dedup record commit together.
 */
export function OnMessage(topic: Topic, options: { group?: string } = {}): MethodDecorator {
  const extras: HandlerExtras = { topic, group: options.group };
  return EventPattern(`${topic}#${options.group ?? ''}`, extras);
}

/**
 * As `OnMessage`, but the method receives a `ConsumedBatch`: every new (not yet applied) message of a chunk in
 * partition order, with the one transaction they share with their inbox records. Made for set-based SQL, which
 * drains a backlog an order of magnitude faster than a statement per message. If the batch throws, the chunk
 * is rolled back and each message is retried alone (a batch of one), so one poison message cannot block the rest.
 *
 * `subjects`: for a group that handles a few kinds of a busy topic (terminal's reader events on
 * `stripe.events.v1`). A message whose `message-subject` header names another subject is passed over unread: not
 * parsed, not recorded in the inbox (it has no effect to deduplicate), only its offset is committed. A message
 * without the header (an older producer) is read and handed over as before, so the handler still filters too.
 *
 * `types`: the same by message kind (the `message-type` header every producer sets), for a group that acts on a
 * few kinds of its topic: inventory reads `payment.succeeded` and `payment.refunded` of `payments.events.v1`,
 * not the `payment.created` of every checkout. All versions of a named kind reach the handler.
 */
export function OnMessages(
  topic: Topic,
  options: { group?: string; subjects?: readonly string[]; types?: readonly MessageDefinition[] } = {},
): MethodDecorator {
  const extras: HandlerExtras = {
    topic,
    group: options.group,
    batch: true,
    subjects: options.subjects,
    types: options.types?.map((d) => {
      if (d.topic !== topic) throw new Error(`${d.type} is a message of ${d.topic}, not of ${topic}`);
      return d.type;
    }),
  };
  return EventPattern(`${topic}#${options.group ?? ''}`, extras);
}
