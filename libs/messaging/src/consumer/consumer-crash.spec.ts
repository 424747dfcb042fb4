import type { MessageHandler } from '@nestjs/microservices';
import { deadLetterTopic } from '@omnipay/contracts';
import { JsonLogger, consumerGroupUp, createLogger } from '@omnipay/observability';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import type { KafkaPublisher } from '../kafka/publisher';
import type { MessagingSettings } from '../messaging.settings';
import type { OutboxService } from '../outbox/outbox.service';
import { KafkaConsumerServer, crashRestartDelayMs } from './kafka-consumer.server';

/** Just enough of a kafkajs consumer to see what the transport does with it. */
class FakeConsumer {
  readonly events = { COMMIT_OFFSETS: 'commit', CRASH: 'crash', GROUP_JOIN: 'join' };
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

describe('a consumer group kafkajs will not restart', () => {
  let consumers: FakeConsumer[];
  let server: KafkaConsumerServer;
  const group = () => ({ groupId: 'omnipay.orders', handlers: new Map([['payments.events.v1', { handler: jest.fn(), batch: true }]]) });
  const crash = (c: FakeConsumer, restart: boolean) =>
    c.emit('crash', { error: new Error('KafkaJSGroupCoordinatorNotFound'), groupId: 'omnipay.orders', restart });
  const startGroup = (g: ReturnType<typeof group>) =>
    (server as unknown as { startGroup(g: unknown): Promise<void> }).startGroup(g);
  /** Through the transport's own start, as a module's `@OnMessages('payments.events.v1')` in orders declares it. */
  const listen = async () => {
    server.addHandler('payments.events.v1#', jest.fn() as unknown as MessageHandler, true, { topic: 'payments.events.v1', batch: true });
    await new Promise<void>((resolve, reject) => server.listen((error) => (error ? reject(error as Error) : resolve())));
  };
  const state = () => server.groupStates()['omnipay.orders'];
  const up = async () => (await consumerGroupUp.get()).values.find((v) => v.labels.group === 'omnipay.orders')?.value;

  beforeEach(() => {
    jest.useFakeTimers();
    consumerGroupUp.reset();
    consumers = [];
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
    server = new KafkaConsumerServer(
      kafka,
      { groupPrefix: 'omnipay', service: 'orders', topicPrefix: '', sessionTimeoutMs: 10_000, consumerConcurrency: 3 } as MessagingSettings,
      {} as DataSource,
      { wireTopic: (t: string) => t } as unknown as KafkaPublisher,
      {} as OutboxService,
      new JsonLogger(createLogger('crash-test', 'silent')),
    );
  });
  afterEach(async () => {
    await server.close();
    jest.useRealTimers();
  });

  it('is left to kafkajs when kafkajs restarts it', async () => {
    await startGroup(group());
    crash(consumers[0], true);
    await jest.advanceTimersByTimeAsync(120_000);
    expect(consumers).toHaveLength(1);
  });

  it('is restarted by the transport with a new consumer after a backoff, and again if it crashes again', async () => {
    await startGroup(group());
    crash(consumers[0], false);
    await jest.advanceTimersByTimeAsync(900);
    expect(consumers).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(200);
    expect(consumers).toHaveLength(2);
    expect(consumers[0].disconnect).toHaveBeenCalled();
    expect(consumers[1].run).toHaveBeenCalledTimes(1);
    crash(consumers[1], false); // second crash in a row: waits twice as long
    await jest.advanceTimersByTimeAsync(1500);
    expect(consumers).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(600);
    expect(consumers).toHaveLength(3);
    expect(consumers[2].run).toHaveBeenCalledTimes(1);
  });

  it('is not restarted once the service is closing', async () => {
    await startGroup(group());
    crash(consumers[0], false);
    await server.close();
    await jest.advanceTimersByTimeAsync(120_000);
    expect(consumers).toHaveLength(1);
  });

  it('is reported running once joined, restarting while it waits for its restart, and running again after it', async () => {
    await listen();
    expect(state()).toEqual({ state: 'starting' });
    expect(await up()).toBe(0);
    consumers[0].emit('join', {});
    expect(state()).toEqual({ state: 'running' });
    expect(await up()).toBe(1);

    crash(consumers[0], false);
    expect(state()).toEqual({
      state: 'restarting',
      crashesInARow: 1,
      error: 'KafkaJSGroupCoordinatorNotFound',
      restartAt: new Date(Date.now() + 1000).toISOString(),
    });
    expect(await up()).toBe(0);
    await jest.advanceTimersByTimeAsync(1000);
    expect(state()).toEqual({ state: 'starting' });
    crash(consumers[1], false); // the new consumer could not join either: counted in the same row
    expect(state()).toMatchObject({ state: 'restarting', crashesInARow: 2, restartAt: new Date(Date.now() + 2000).toISOString() });

    await jest.advanceTimersByTimeAsync(2000);
    consumers[2].emit('join', {});
    expect(state()).toEqual({ state: 'running' });
    expect(await up()).toBe(1);
  });

  it('is reported starting while kafkajs restarts it, and stopped once the service closes', async () => {
    await listen();
    consumers[0].emit('join', {});
    crash(consumers[0], true);
    expect(state()).toEqual({ state: 'starting' });
    expect(await up()).toBe(0);
    consumers[0].emit('join', {});
    await server.close();
    expect(state()).toEqual({ state: 'stopped' });
    expect(await up()).toBe(0);
  });

  it('backs off from 1 s doubling to a minute', () => {
    expect([1, 2, 3, 4].map(crashRestartDelayMs)).toEqual([1000, 2000, 4000, 8000]);
    expect(crashRestartDelayMs(50)).toBe(60_000);
  });
});
