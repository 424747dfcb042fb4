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
  /** The W3C trace context the message arrived with; a batch handler passes it on per emitted message. */
  traceparent?: string;
}

const arrivedWith = new WeakMap<Envelope, string>();

/** Remembers the trace context a consumed envelope arrived with (the transport calls this). */
export function rememberTraceparent(envelope: Envelope, traceparent: string | undefined): void {
  if (traceparent) arrivedWith.set(envelope, traceparent);
}

/**
 * The trace context a consumed envelope arrived with, for code that works on envelopes rather than messages
 * (batch planners): `outbox.addMany(m, [{ …, opts: { traceparent: traceparentOf(cause) } }])`.
 */
export function traceparentOf(envelope: Envelope): string | undefined {
  return arrivedWith.get(envelope);
}

export interface ConsumedBatch {
  /** New messages of one partition, in offset order; duplicates were already dropped by the inbox. */
  messages: ConsumedMessage[];
  manager: EntityManager;
  /**
   * Tells the consumer watchdog the chunk is moving (decision 0023). A handler that does slow work per message
   * (a call to Stripe) calls it after each one; set-based SQL within statement timeouts need not.
   */
  progress?: () => void;
}

/** Narrows a consumed message to one definition, with typed data. */
export function isMessage<D extends MessageDefinition>(
  message: ConsumedMessage,
  definition: D,
): message is ConsumedMessage<DataOf<D>> {
  return message.envelope.type === definition.type && message.envelope.version === definition.version;
}
