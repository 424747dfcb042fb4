import { Global, Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { kafkaSecurity, type BaseConfig, type EdgeConfig } from '@omnipay/config';
import type { MessageDefinition } from '@omnipay/contracts';
import { MessagingModule } from '@omnipay/messaging';
import { ACCESS_LOG_MODE, CorrelationMiddleware, JsonLogger } from '@omnipay/observability';
import {
  MessagingDeadLetters1700000000020,
  MessagingDeadLetterDiscards1700000000030,
  MessagingRetention1700000000010,
  MessagingTables1700000000000,
  dataSourceOptions,
  deadLetterRetention,
  inboxRetention,
  outboxRetention,
  type DatabaseSettings,
  type RetentionRule,
} from '@omnipay/persistence';
import { AdminTokenGuard } from './admin-token.guard';
import { DeadLetterMetrics, DeadLettersController } from './dead-letters.controller';
import { HealthController } from './health.controller';
import { MetricsController } from './metrics.controller';
import { MigrationRunner } from './migration-runner';
import { BestEffortRedis } from './best-effort-redis';
import { RedisLifecycle, redisProvider } from './redis.provider';
import { RETENTION_RULES, RetentionSweeper } from './retention.sweeper';
import { ServiceTokenGuard } from './service-token';
import { APP_CONFIG, REDIS } from './tokens';

export interface PlatformOptions {
  service: string;
  config: BaseConfig;
  logger: JsonLogger;
  entities: DatabaseSettings['entities'];
  /** The service's own migrations; the outbox/inbox tables migration is added first. */
  migrations: DatabaseSettings['migrations'];
  extraMessages?: readonly MessageDefinition[];
  /** The service's own tables that forget old rows; the outbox and inbox rules are added first. */
  retention?: RetentionRule[];
  /** It serves internal APIs (orders, payments, terminal): every route but its probes, metrics and admin routes asks for SERVICE_TOKEN. */
  internalApi?: boolean;
}

const HOUR_MS = 3_600_000;

/**
 * What every service has: validated config, JSON logs with correlation ids, PostgreSQL (own schema, migrations),
 * Redis, Kafka (outbox, relay, consumer transport), `/health` and `/metrics`.
 */
@Global()
@Module({})
export class PlatformModule implements NestModule {
  static forRoot(opts: PlatformOptions): DynamicModule {
    const { config } = opts;
    return {
      module: PlatformModule,
      imports: [
        TypeOrmModule.forRoot(
          dataSourceOptions({
            url: config.DATABASE_URL,
            schema: config.DATABASE_SCHEMA,
            poolSize: config.DATABASE_POOL_SIZE,
            lockTimeoutMs: config.DATABASE_LOCK_TIMEOUT_MS,
            entities: opts.entities,
            migrations: [
              MessagingTables1700000000000,
              MessagingRetention1700000000010,
              MessagingDeadLetters1700000000020,
              MessagingDeadLetterDiscards1700000000030,
              ...(opts.migrations as unknown[]),
            ] as DatabaseSettings['migrations'],
          }),
        ),
        MessagingModule.forRoot({
          service: opts.service,
          brokers: config.KAFKA_BROKERS,
          ...kafkaSecurity(config),
          groupPrefix: config.KAFKA_GROUP_PREFIX,
          topicPrefix: config.KAFKA_TOPIC_PREFIX,
          partitions: config.KAFKA_TOPIC_PARTITIONS,
          consumerConcurrency: config.KAFKA_CONSUMER_CONCURRENCY,
          sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
          watchdogMs: config.KAFKA_CONSUMER_WATCHDOG_MS,
          maxAttempts: config.CONSUMER_MAX_ATTEMPTS,
          retryBackoffMs: config.CONSUMER_RETRY_BACKOFF_MS,
          relayEnabled: config.OUTBOX_RELAY_ENABLED,
          relayPollMs: config.OUTBOX_POLL_MS,
          relayLingerMs: config.OUTBOX_LINGER_MS,
          extraMessages: opts.extraMessages,
        }),
      ],
      controllers: [HealthController, MetricsController, DeadLettersController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: JsonLogger, useValue: opts.logger },
        redisProvider,
        RedisLifecycle,
        BestEffortRedis,
        AdminTokenGuard,
        DeadLetterMetrics,
        MigrationRunner,
        {
          provide: RETENTION_RULES,
          useValue: [
            outboxRetention(config.OUTBOX_RETENTION_HOURS * HOUR_MS),
            inboxRetention(config.INBOX_RETENTION_DAYS * 24 * HOUR_MS),
            deadLetterRetention(config.INBOX_RETENTION_DAYS * 24 * HOUR_MS),
            ...(opts.retention ?? []),
          ],
        },
        RetentionSweeper,
        { provide: ACCESS_LOG_MODE, useValue: config.HTTP_ACCESS_LOG },
        CorrelationMiddleware,
        ...(opts.internalApi ? [{ provide: APP_GUARD, useClass: ServiceTokenGuard }] : []),
      ],
      exports: [APP_CONFIG, JsonLogger, REDIS, BestEffortRedis, TypeOrmModule, RetentionSweeper],
    };
  }

  /**
   * What an edge service has (the gateway): validated config, JSON logs with correlation ids, Redis, `/health`
   * (Redis only) and `/metrics`. No PostgreSQL, no Kafka: it owns no state and reaches services over HTTP.
   */
  static forEdge(opts: { service: string; config: EdgeConfig; logger: JsonLogger }): DynamicModule {
    return {
      module: PlatformModule,
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: APP_CONFIG, useValue: opts.config },
        { provide: JsonLogger, useValue: opts.logger },
        redisProvider,
        RedisLifecycle,
        BestEffortRedis,
        { provide: ACCESS_LOG_MODE, useValue: opts.config.HTTP_ACCESS_LOG },
        CorrelationMiddleware,
      ],
      exports: [APP_CONFIG, JsonLogger, REDIS, BestEffortRedis],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(CorrelationMiddleware).forRoutes('*');
  }
}
