import { consumerGroupUp } from '@omnipay/observability';
import { FakeConsumer, fakeOrdersTransport } from './fake-kafka.testing';
import { KafkaConsumerServer, crashRestartDelayMs } from './kafka-consumer.server';

describe('a consumer group kafkajs will not restart', () => {
  let consumers: FakeConsumer[];
  let server: KafkaConsumerServer;
  let listen: () => Promise<void>;
  let state: () => unknown;
  const group = () => ({ groupId: 'omnipay.orders', handlers: new Map([['payments.events.v1', { handler: jest.fn(), batch: true }]]) });
  const crash = (c: FakeConsumer, restart: boolean) =>
    c.emit('crash', { error: new Error('KafkaJSGroupCoordinatorNotFound'), groupId: 'omnipay.orders', restart });
  const startGroup = (g: ReturnType<typeof group>) =>
    (server as unknown as { startGroup(g: unknown): Promise<void> }).startGroup(g);
  const up = async () => (await consumerGroupUp.get()).values.find((v) => v.labels.group === 'omnipay.orders')?.value;

  beforeEach(() => {
    jest.useFakeTimers();
    consumerGroupUp.reset();
    ({ server, consumers, listen, state } = fakeOrdersTransport());
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
