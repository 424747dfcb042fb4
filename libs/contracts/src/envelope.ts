import { z } from 'zod';
import { isoTimestamp } from './primitives';

/**
 * Every Kafka message is this envelope, JSON-encoded. `type` + `version` select the schema of `data`.
 * Unknown envelope fields are tolerated (stripped), so producers can add fields without breaking consumers.
 */
export const envelopeSchema = z.object({
  id: z.string().uuid(),
  type: z.string().regex(/^[a-z][a-z0-9_.]*$/),
  version: z.number().int().positive(),
  occurredAt: isoTimestamp,
  source: z.string().min(1),
  correlationId: z.string().min(1).max(128),
  causationId: z.string().min(1).max(128).nullable(),
  data: z.unknown(),
});

export type Envelope<T = unknown> = Omit<z.infer<typeof envelopeSchema>, 'data'> & { data: T };

/** Header names carried on every Kafka message (values are strings). */
export const Headers = {
  correlationId: 'correlation-id',
  traceparent: 'traceparent',
  messageType: 'message-type',
  messageVersion: 'message-version',
  /**
   * What a message is about within its type, for kinds that define `subject` (the Stripe event type of
   * `stripe.event_received`): lets a consumer group skip what it never handles without parsing it.
   */
  subject: 'message-subject',
  /** Set on dead-lettered copies. */
  deadLetterReason: 'dead-letter-reason',
  deadLetterAttempts: 'dead-letter-attempts',
  originalTopic: 'original-topic',
  originalPartition: 'original-partition',
  originalOffset: 'original-offset',
} as const;
