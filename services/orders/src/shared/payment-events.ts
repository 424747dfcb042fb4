import type { DataOf, Envelope, MessageDefinition } from '@omnipay/contracts';
import { traceparentOf, type EnvelopeOptions } from '@omnipay/messaging';

/** Narrows a payments.events.v1 envelope to one definition (the batch planners work on envelopes, not messages). */
export function isEvent<D extends MessageDefinition>(
  envelope: Envelope,
  definition: D,
): envelope is Envelope<DataOf<D>> {
  return envelope.type === definition.type && envelope.version === definition.version;
}

/**
 * A chunk runs in the context of its first message, so every message emitted for a payment event names that
 * event as its cause and carries its correlation id and trace context explicitly: the envelopes are those a handler called with
 * the one message would have written.
 */
export function causedBy(envelope: Envelope): EnvelopeOptions {
  return {
    correlationId: envelope.correlationId,
    causationId: envelope.id,
    traceparent: traceparentOf(envelope),
  };
}

/** Log lines a planner wants written; it stays free of I/O so it can be tested on plain data. */
export interface PlanLog {
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
}
