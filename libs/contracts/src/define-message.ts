import type { z } from 'zod';
import type { Topic } from './topics';

/** One message kind: the topic it lives on, its type name and version, its data schema and its partition key. */
export interface MessageDefinition<TTopic extends Topic = Topic, TType extends string = string, S extends z.ZodTypeAny = z.ZodTypeAny> {
  readonly topic: TTopic;
  readonly type: TType;
  readonly version: number;
  readonly schema: S;
  /** Kafka key: all messages of one aggregate share a partition, so they stay in order. */
  key(data: z.infer<S>): string;
  /** Sent as the `message-subject` header, for consumers that read only some subjects of a busy topic. */
  subject?(data: z.infer<S>): string;
}

export function defineMessage<TTopic extends Topic, TType extends string, S extends z.ZodTypeAny>(
  def: MessageDefinition<TTopic, TType, S>,
): MessageDefinition<TTopic, TType, S> {
  return Object.freeze(def);
}

export type DataOf<D> = D extends MessageDefinition<Topic, string, infer S> ? z.infer<S> : never;
