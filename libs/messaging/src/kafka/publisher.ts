import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { CompressionTypes, Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import { KAFKA, MESSAGING_SETTINGS, type MessagingSettings } from '../messaging.settings';
import { ensureTopics } from './topic-admin';

export interface OutgoingMessage {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/**
 * The one Kafka producer of a process, waiting for all in-sync replicas (`acks: -1`) on every send.
 * Only the outbox relay and the DLQ use it: state
 * changes never publish directly (they would be lost on a crash between commit and send).
 */
@Injectable()
export class KafkaPublisher implements OnApplicationShutdown {
  private producer?: Producer;
  /** Topics this process has made sure exist; the producer never auto-creates (partition count must be ours). */
  private readonly knownTopics = new Set<string>();
  private connecting?: Promise<Producer>;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(MESSAGING_SETTINGS) private readonly settings: MessagingSettings,
  ) {}

  wireTopic(topic: string): string {
    return `${this.settings.topicPrefix}${topic}`;
  }

  async send(messages: OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const producer = await this.connect();
    const unknown = [...new Set(messages.map((m) => this.wireTopic(m.topic)))].filter((t) => !this.knownTopics.has(t));
    if (unknown.length > 0) {
      await ensureTopics(this.kafka, unknown, this.settings.partitions);
      for (const t of unknown) this.knownTopics.add(t);
    }
    const byTopic = new Map<string, Message[]>();
    for (const m of messages) {
      const topic = this.wireTopic(m.topic);
      const list = byTopic.get(topic) ?? [];
      list.push({ key: m.key, value: m.value, headers: m.headers });
      byTopic.set(topic, list);
    }
    await producer.sendBatch({
      acks: -1,
      timeout: 10000,
      compression: CompressionTypes.None,
      topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
    });
  }

  private async connect(): Promise<Producer> {
    if (this.producer) return this.producer;
    this.connecting ??= (async () => {
      const producer = this.kafka.producer({
        // Murmur2 like the Java client, so a key lands on the same partition whoever produces it.
        createPartitioner: Partitioners.DefaultPartitioner,
        // Not kafkajs's idempotent mode: it requires unbounded retries, and the relay must give up and retry the
        // batch itself while Kafka is down. A re-sent duplicate is dropped by the consumers' inboxes anyway.
        // One request in flight keeps the order of the outbox on each partition.
        idempotent: false,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
      });
      producer.on(producer.events.DISCONNECT, () => {
        if (this.producer === producer) this.producer = undefined;
      });
      await producer.connect();
      this.producer = producer;
      return producer;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
  }
}
