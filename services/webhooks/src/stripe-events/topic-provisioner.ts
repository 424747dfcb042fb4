import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { StripeEventReceived } from '@omnipay/contracts';
import { KAFKA, KafkaPublisher } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import type { WebhooksConfig } from '../config';

/** The slice of the kafkajs admin client used here (services do not import kafkajs). */
interface KafkaAdminLike {
  admin(): {
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    listTopics(): Promise<string[]>;
    createTopics(opts: {
      waitForLeaders: boolean;
      topics: { topic: string; numPartitions: number; replicationFactor: number }[];
    }): Promise<boolean>;
  };
}

/**
 * Creates `stripe.events.v1` if it does not exist yet. The messaging lib creates the topics a service consumes,
 * not the ones it only produces, and the broker does not auto-create topics; without this the relay would retry
 * until some consumer service happened to start. Kafka being down must not stop webhooks from being accepted
 * (they wait in the outbox), so a failure here is retried in the background instead of failing startup.
 */
@Injectable()
export class TopicProvisioner implements OnModuleInit, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(KAFKA) private readonly kafka: KafkaAdminLike,
    private readonly publisher: KafkaPublisher,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: WebhooksConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!(await this.attempt())) this.retryLater();
  }

  onApplicationShutdown(): void {
    clearTimeout(this.timer);
  }

  private retryLater(): void {
    this.timer = setTimeout(() => void this.attempt().then((ok) => ok || this.retryLater()), 5000);
    this.timer.unref();
  }

  private async attempt(): Promise<boolean> {
    const topic = this.publisher.wireTopic(StripeEventReceived.topic);
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const existing = new Set(await admin.listTopics());
      if (!existing.has(topic)) {
        await admin.createTopics({
          waitForLeaders: true,
          topics: [{ topic, numPartitions: this.config.KAFKA_TOPIC_PARTITIONS, replicationFactor: -1 }],
        });
      }
      return true;
    } catch (error) {
      if ((error as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return true;
      this.logger.pino.warn({ err: error, topic }, 'could not ensure the Stripe events topic; will retry');
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
