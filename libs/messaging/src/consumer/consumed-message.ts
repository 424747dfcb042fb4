import type { DataOf, Envelope, MessageDefinition } from '@omnipay/contracts';
import type { EntityManager } from 'typeorm';

export interface ConsumedMessage<T = unknown> {
  envelope: Envelope<T>;
  definition: MessageDefinition;
  topic: string;
  partition: number;
  offset: string;
  /** Attempt number, from 1; a handler may log it, it must not change behaviour on it. */
  attempt: number;
  /** The transaction shared with the inbox record. */
  manager: EntityManager;
}

export interface ConsumedBatch {
  /** New messages of one partition, in offset order; duplicates were already dropped by the inbox. */
  messages: ConsumedMessage[];
  manager: EntityManager;
}

/** Narrows a consumed message to one definition, with typed data. */
export function isMessage<D extends MessageDefinition>(
  message: ConsumedMessage,
  definition: D,
): message is ConsumedMessage<DataOf<D>> {
  return message.envelope.type === definition.type && message.envelope.version === definition.version;
}
