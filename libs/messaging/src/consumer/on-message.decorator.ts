import { EventPattern } from '@nestjs/microservices';
import type { Topic } from '@omnipay/contracts';

export interface HandlerExtras {
  topic: Topic;
  /** Consumer group within the service (`<prefix>.<service>.<group>`); default: the service's own group. */
  group?: string;
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
