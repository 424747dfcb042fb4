import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { CompressionTypes, type Kafka, type Message, type Producer } from 'kafkajs';
import { KAFKA, MESSAGING_SETTINGS, type MessagingSettings } from '../messaging.settings';

export interface OutgoingMessage {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

/**
 * The one Kafka producer of a process. `acks: -1` (all in-sync replicas) and the idempotent producer, so a
 * retried send inside kafkajs does not write a second copy. Only the outbox relay and the DLQ use it: state
 * changes never publish directly (they would be lost on a crash between commit and send).
 */
@Injectable()
export class KafkaPublisher implements OnApplicationShutdown {
  private producer?: Producer;
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
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 2000 },
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
