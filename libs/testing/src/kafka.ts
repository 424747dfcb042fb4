import { applyKafkajsIdleFix } from '@omnipay/messaging';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { uniqueName } from './engines';

export interface RecordedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
  json: Record<string, unknown> | null;
}

export function testKafka(brokers: string): Kafka {
  applyKafkajsIdleFix();
  return new Kafka({ clientId: uniqueName('test'), brokers: brokers.split(','), logLevel: logLevel.NOTHING });
}

/** Reads wire topics from the beginning in a throwaway group and keeps every message, for assertions. */
export class TopicRecorder {
  readonly messages: RecordedMessage[] = [];
  private consumer?: Consumer;

  constructor(
    private readonly kafka: Kafka,
    private readonly topics: string[],
  ) {}

  async start(): Promise<this> {
    // On a broker that has just started, the create can fail or the subscribe can see the new topic before its
    // partitions have leaders ("does not host this topic-partition"); both settle within moments, so the pair
    // is retried (a payments suite run first against a cold broker failed every test here).
    for (let attempt = 1; ; attempt++) {
      try {
        await this.createMissing();
        this.consumer = this.kafka.consumer({ groupId: uniqueName('recorder'), maxWaitTimeInMs: 100 });
        await this.consumer.connect();
        await this.consumer.subscribe({ topics: this.topics, fromBeginning: true });
        break;
      } catch (error) {
        await this.consumer?.disconnect().catch(() => undefined);
        if (attempt >= 15) throw error;
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
      }
    }
    await this.consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const value = message.value?.toString() ?? null;
        let json: Record<string, unknown> | null = null;
        try {
          json = value ? (JSON.parse(value) as Record<string, unknown>) : null;
        } catch {
          json = null;
        }
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = v.toString();
        this.messages.push({ topic, partition, offset: message.offset, key: message.key?.toString() ?? null, value, headers, json });
      },
    });
    return this;
  }

  private async createMissing(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = this.topics.filter((t) => !existing.has(t));
      if (missing.length) {
        await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, numPartitions: 6 })) });
      }
    } finally {
      await admin.disconnect();
    }
  }

  on(topic: string): RecordedMessage[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
