import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { Topics } from '@omnipay/contracts';
import { KAFKA, KafkaPublisher } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import type { OrdersConfig } from '../config';

/** The few admin calls used here; typed locally so the service does not import kafkajs. */
interface KafkaAdminLike {
  admin(): {
    connect(): Promise<void>;
    disconnect(): Promise<void>;
    listTopics(): Promise<string[]>;
    createTopics(o: {
      waitForLeaders: boolean;
      topics: { topic: string; numPartitions: number; replicationFactor: number }[];
    }): Promise<boolean>;
  };
}

/** Topics this service writes to through its outbox. */
export const PRODUCED_TOPICS = [Topics.ordersEvents, Topics.inventoryEvents, Topics.loyaltyEvents] as const;

/**
 * The platform creates the topics a service consumes but not those it only produces, and the producer never
 * auto-creates: until they exist, every relay batch fails (and one missing topic blocks the others in the same
 * batch). Created here at startup until the platform does it (requested of the lead).
 */
@Injectable()
export class ProducedTopics implements OnApplicationBootstrap {
  constructor(
    @Inject(KAFKA) private readonly kafka: KafkaAdminLike,
    private readonly publisher: KafkaPublisher,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: OrdersConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const missing = PRODUCED_TOPICS.map((t) => this.publisher.wireTopic(t)).filter((t) => !existing.has(t));
      if (missing.length === 0) return;
      await admin
        .createTopics({
          waitForLeaders: true,
          topics: missing.map((topic) => ({
            topic,
            numPartitions: this.config.KAFKA_TOPIC_PARTITIONS,
            replicationFactor: -1,
          })),
        })
        .catch((error: { type?: string }) => {
          if (error.type !== 'TOPIC_ALREADY_EXISTS') throw error; // another replica was faster
        });
      this.logger.pino.info({ topics: missing }, 'created produced topics');
    } finally {
      await admin.disconnect();
    }
  }
}
