import type { MessageHandler } from '@nestjs/microservices';
import { deadLetterTopic } from '@omnipay/contracts';
import { JsonLogger, createLogger } from '@omnipay/observability';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import type { KafkaPublisher } from '../kafka/publisher';
import type { MessagingSettings } from '../messaging.settings';
import type { OutboxService } from '../outbox/outbox.service';
import { KafkaConsumerServer } from './kafka-consumer.server';

/** Just enough of a kafkajs consumer to see what the transport does with it (unit tests only). */
export class FakeConsumer {
  readonly events = { COMMIT_OFFSETS: 'commit', CRASH: 'crash', GROUP_JOIN: 'join', FETCH_START: 'fetch_start', REBALANCING: 'rebalancing' };
  private readonly listeners = new Map<string, ((event: unknown) => void)[]>();
  connect = jest.fn(async () => undefined);
  subscribe = jest.fn(async () => undefined);
  run = jest.fn(async () => undefined);
  disconnect = jest.fn(async () => undefined);
  on(event: string, fn: (event: unknown) => void): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), fn]);
  }
  emit(event: string, payload: unknown): void {
    for (const fn of this.listeners.get(event) ?? []) fn({ payload });
  }
}

/**
 * Orders' transport on fake kafkajs consumers (each one it creates is pushed to `consumers`): `listen` starts it
 * as a module's `@OnMessages('payments.events.v1')` in orders declares it.
 */
export function fakeOrdersTransport(settings: Partial<MessagingSettings> = {}) {
  const consumers: FakeConsumer[] = [];
  const kafka = {
    consumer: () => {
      const c = new FakeConsumer();
      consumers.push(c);
      return c;
    },
    admin: () => ({
      connect: async () => undefined,
      listTopics: async () => ['payments.events.v1', deadLetterTopic('payments.events.v1')],
      disconnect: async () => undefined,
    }),
  } as unknown as Kafka;
  const server = new KafkaConsumerServer(
    kafka,
    { groupPrefix: 'omnipay', service: 'orders', topicPrefix: '', sessionTimeoutMs: 10_000, consumerConcurrency: 3, ...settings } as MessagingSettings,
    {} as DataSource,
    { wireTopic: (t: string) => t } as unknown as KafkaPublisher,
    {} as OutboxService,
    new JsonLogger(createLogger('fake-transport', 'silent')),
  );
  const listen = async () => {
    server.addHandler('payments.events.v1#', jest.fn() as unknown as MessageHandler, true, { topic: 'payments.events.v1', batch: true });
    await new Promise<void>((resolve, reject) => server.listen((error) => (error ? reject(error as Error) : resolve())));
  };
  const state = () => server.groupStates()['omnipay.orders'];
  return { server, consumers, listen, state };
}
