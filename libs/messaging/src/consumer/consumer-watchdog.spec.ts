import { consumerWatchdogActions } from '@omnipay/observability';
import type { EachBatchPayload } from 'kafkajs';
import { judgeGroup } from './consumer-watchdog';
import { fakeOrdersTransport } from './fake-kafka.testing';

const LIMIT = 10_000;

describe('judgeGroup', () => {
  const now = 1_000_000;
  const running = (lastFetchAt: number, chunksProgressedAt: number[] = []) => ({ state: 'running' as const, lastFetchAt, chunksProgressedAt });

  it('leaves a running group alone while it fetches or its chunks are young', () => {
    expect(judgeGroup(running(now - 500), now, LIMIT)).toEqual({ action: 'none' });
    // kafkajs does not fetch while a chunk is in hand: a long busy stretch is not silence.
    expect(judgeGroup(running(now - 60_000, [now - 2000]), now, LIMIT)).toEqual({ action: 'none' });
  });

  it('restarts a running group that has not fetched for longer than the limit with nothing in hand', () => {
    expect(judgeGroup(running(now - 10_001), now, LIMIT)).toEqual({ action: 'restart', reason: 'no fetch for 10 s' });
  });

  it('declares stuck a group with a chunk that made no progress for longer than the limit, however recently another fetched', () => {
    expect(judgeGroup(running(now - 100, [now - 1000, now - 95_000]), now, LIMIT)).toEqual({
      action: 'stuck',
      reason: 'a chunk of messages has made no progress for 95 s',
    });
  });

  it('leaves groups that are starting, restarting after a crash, stopped or already stuck alone', () => {
    for (const state of ['starting', 'restarting', 'stopped', 'stuck'] as const)
      expect(judgeGroup({ state, lastFetchAt: 0, chunksProgressedAt: [0] }, now, LIMIT)).toEqual({ action: 'none' });
  });

  it("restarts a group whose restart by kafkajs has neither joined nor failed for longer than the limit", () => {
    const restarting = (lastFetchAt: number) => ({ state: 'starting' as const, selfRestarting: true, lastFetchAt, chunksProgressedAt: [] });
    expect(judgeGroup(restarting(now - 5000), now, LIMIT)).toEqual({ action: 'none' });
    expect(judgeGroup(restarting(now - 12_000), now, LIMIT)).toEqual({ action: 'restart', reason: "kafkajs's restart of the consumer silent for 12 s" });
  });
});

describe('the consumer watchdog in the transport', () => {
  const actions = async (action: string) =>
    (await consumerWatchdogActions.get()).values.find((v) => v.labels.group === 'omnipay.orders' && v.labels.action === action)?.value ?? 0;

  beforeEach(() => {
    jest.useFakeTimers();
    consumerWatchdogActions.reset();
  });
  afterEach(() => jest.useRealTimers());

  it('keeps a group that fetches, and replaces a consumer that stopped fetching with a new one', async () => {
    const t = fakeOrdersTransport({ watchdogMs: LIMIT });
    await t.listen();
    t.consumers[0].emit('join', {});
    for (let s = 0; s < 60; s++) {
      await jest.advanceTimersByTimeAsync(1000);
      t.consumers[0].emit('fetch_start', {});
    }
    expect(t.consumers).toHaveLength(1);

    await jest.advanceTimersByTimeAsync(LIMIT + 5000); // silent from here on
    expect(t.consumers[0].disconnect).toHaveBeenCalled();
    expect(t.consumers).toHaveLength(2);
    expect(t.consumers[1].run).toHaveBeenCalledTimes(1);
    expect(t.state()).toEqual({ state: 'starting' });
    t.consumers[1].emit('join', {});
    expect(t.state()).toEqual({ state: 'running' });
    expect(await actions('restarted')).toBe(1);
    await t.server.close();
  });

  it('declares the group stuck, without a second consumer, when the silent one does not stop', async () => {
    const t = fakeOrdersTransport({ watchdogMs: LIMIT });
    await t.listen();
    t.consumers[0].disconnect.mockImplementation(() => new Promise(() => undefined)); // kafkajs waiting for ever
    t.consumers[0].emit('join', {});
    await jest.advanceTimersByTimeAsync(LIMIT + 5000 + 15_000);
    expect(t.consumers).toHaveLength(1);
    expect(t.state()).toMatchObject({ state: 'stuck', reason: expect.stringContaining('did not stop within 15 s') });
    expect(await actions('stuck')).toBe(1);
    await t.server.close();
  });

  it('declares the group stuck while a handler holds a chunk past the limit, and running again if it ever returns', async () => {
    const t = fakeOrdersTransport({ watchdogMs: LIMIT });
    await t.listen();
    t.consumers[0].emit('join', {});
    let finish: () => void = () => undefined;
    const internals = t.server as unknown as { applyChunk(): Promise<void>; handleBatch(group: unknown, payload: EachBatchPayload): Promise<void>; groups: Map<string, unknown> };
    jest.spyOn(internals, 'applyChunk').mockImplementation(() => new Promise<void>((resolve) => (finish = resolve)));
    const payload = {
      batch: { topic: 'payments.events.v1', partition: 2, messages: [{ offset: '7' }] },
      isRunning: () => true,
      isStale: () => false,
      resolveOffset: jest.fn(),
      commitOffsetsIfNecessary: jest.fn(async () => undefined),
      uncommittedOffsets: () => ({ topics: [] }),
      heartbeat: jest.fn(async () => undefined),
    } as unknown as EachBatchPayload;
    const handling = internals.handleBatch(internals.groups.get('omnipay.orders'), payload);

    await jest.advanceTimersByTimeAsync(LIMIT + 5000);
    expect(t.state()).toMatchObject({ state: 'stuck', reason: expect.stringMatching(/^a chunk of messages has made no progress for 1\d s$/) });
    expect(t.consumers).toHaveLength(1); // nothing in the process can take the chunk back: no restart
    expect(t.consumers[0].disconnect).not.toHaveBeenCalled();

    finish();
    await handling;
    expect(t.state()).toEqual({ state: 'running' });
    // The finished chunk is a sign of life: the group is not taken for silent while kafkajs fetches or rejoins next.
    await jest.advanceTimersByTimeAsync(LIMIT - 1000);
    expect(t.consumers).toHaveLength(1);
    expect(await actions('restarted')).toBe(0);
    await t.server.close();
  });

  it('ignores a consumer it gave up on that joins after all: the group stays stuck and that consumer is stopped again', async () => {
    const t = fakeOrdersTransport({ watchdogMs: LIMIT });
    await t.listen();
    t.consumers[0].disconnect.mockImplementation(() => new Promise(() => undefined));
    t.consumers[0].emit('join', {});
    await jest.advanceTimersByTimeAsync(LIMIT + 5000 + 15_000);
    expect(t.state()).toMatchObject({ state: 'stuck' });
    t.consumers[0].emit('join', {}); // kafkajs brought the silent consumer back on its own
    expect(t.state()).toMatchObject({ state: 'stuck' });
    expect(t.consumers[0].disconnect).toHaveBeenCalledTimes(2);
    await t.server.close();
  });

  it("replaces a consumer whose restart by kafkajs went silent, but not one whose restarts keep failing", async () => {
    const t = fakeOrdersTransport({ watchdogMs: LIMIT });
    await t.listen();
    t.consumers[0].emit('join', {});
    const crash = () => t.consumers[0].emit('crash', { error: new Error('Connection error'), groupId: 'omnipay.orders', restart: true });
    crash();
    for (let s = 0; s < 6; s++) {
      await jest.advanceTimersByTimeAsync(5000);
      crash(); // kafkajs retrying, and failing, every 5 s: not silent
    }
    expect(t.consumers).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(LIMIT + 5000); // its restart now neither joins nor fails
    expect(t.consumers).toHaveLength(2);
    expect(t.consumers[0].disconnect).toHaveBeenCalled();
    await t.server.close();
  });

  it('refuses to start when a retry backoff could outlast the watchdog limit', async () => {
    const t = fakeOrdersTransport({ watchdogMs: 5000, retryBackoffMs: 1000, maxAttempts: 5 });
    await expect(t.listen()).rejects.toThrow(
      'KAFKA_CONSUMER_WATCHDOG_MS (5000) must be longer than the longest retry backoff, CONSUMER_RETRY_BACKOFF_MS × 2^(CONSUMER_MAX_ATTEMPTS − 2) = 8000 ms',
    );
  });
});
