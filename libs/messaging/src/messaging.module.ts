import { Global, Module, type DynamicModule } from '@nestjs/common';
import { JsonLogger } from '@omnipay/observability';
import type { Kafka } from 'kafkajs';
import { DataSource } from 'typeorm';
import { KafkaConsumerServer } from './consumer/kafka-consumer.server';
import { createKafka } from './kafka/kafka-factory';
import { KafkaPublisher } from './kafka/publisher';
import { KafkaHealth } from './kafka/kafka-health';
import { KAFKA, MESSAGING_SETTINGS, type MessagingSettings } from './messaging.settings';
import { OutboxMetrics } from './outbox/outbox-metrics';
import { OutboxRelay } from './outbox/outbox-relay.service';
import { OutboxService } from './outbox/outbox.service';
import { UnitOfWork } from './outbox/unit-of-work';

/**
 * Kafka for a service: the outbox (write side), the relay, and the consumer transport (`KafkaConsumerServer`,
 * connected by `bootstrapService`). Needs a TypeORM `DataSource` and a `JsonLogger` in the container.
 */
@Global()
@Module({})
export class MessagingModule {
  static forRoot(settings: MessagingSettings): DynamicModule {
    return {
      module: MessagingModule,
      providers: [
        { provide: MESSAGING_SETTINGS, useValue: settings },
        {
          provide: KAFKA,
          inject: [JsonLogger],
          useFactory: (logger: JsonLogger) =>
            createKafka(`${settings.groupPrefix}.${settings.service}`, settings, logger.pino),
        },
        KafkaPublisher,
        KafkaHealth,
        OutboxService,
        OutboxRelay,
        OutboxMetrics,
        UnitOfWork,
        {
          provide: KafkaConsumerServer,
          inject: [KAFKA, DataSource, KafkaPublisher, OutboxService, JsonLogger],
          useFactory: (kafka: Kafka, ds: DataSource, publisher: KafkaPublisher, outbox: OutboxService, log: JsonLogger) =>
            new KafkaConsumerServer(kafka, settings, ds, publisher, outbox, log),
        },
      ],
      exports: [MESSAGING_SETTINGS, KAFKA, KafkaPublisher, KafkaHealth, OutboxService, OutboxRelay, UnitOfWork, KafkaConsumerServer],
    };
  }
}
