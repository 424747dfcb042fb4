import { randomUUID } from 'node:crypto';
import type { DataOf, Envelope, MessageDefinition } from '@omnipay/contracts';
import { currentContext, newContext } from '@omnipay/observability';

export interface EnvelopeOptions {
  /** A deterministic id (for example derived from a Stripe event id) makes a re-publication dedup downstream. */
  id?: string;
  occurredAt?: Date;
  correlationId?: string;
  causationId?: string | null;
  /**
   * The trace context the message continues (its header gets a child span of it). Default: the current
   * context's. A batch handler passes each consumed message's (`ConsumedMessage.traceparent`, `traceparentOf`).
   */
  traceparent?: string;
}

/** Builds a validated envelope; correlation and causation come from the current unit of work unless given. */
export function createEnvelope<D extends MessageDefinition>(
  definition: D,
  data: DataOf<D>,
  source: string,
  opts: EnvelopeOptions = {},
): Envelope<DataOf<D>> {
  const ctx = currentContext() ?? newContext();
  const parsed = definition.schema.parse(data) as DataOf<D>;
  return {
    id: opts.id ?? randomUUID(),
    type: definition.type,
    version: definition.version,
    occurredAt: (opts.occurredAt ?? new Date()).toISOString(),
    source,
    correlationId: opts.correlationId ?? ctx.correlationId,
    causationId: opts.causationId !== undefined ? opts.causationId : (ctx.causationId ?? null),
    data: parsed,
  };
}
