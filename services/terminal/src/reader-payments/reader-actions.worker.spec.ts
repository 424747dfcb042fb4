import type { JsonLogger } from '@omnipay/observability';
import type { DataSource } from 'typeorm';
import type { UpstreamClient } from '../common/upstream.client';
import type { TerminalConfig } from '../config';
import type { ReadersService } from '../readers/readers.service';
import { ReaderActionsWorker } from './reader-actions.worker';
import type { ReaderPaymentsService } from './reader-payments.service';

const overdue = {
  id: 'ract_1',
  reader_id: 'rdr_1',
  store_id: 'store_berlin',
  order_id: 'ord_1',
  amount: 1000,
  currency: 'eur',
  attempt: 1,
  state: 'in_progress',
  deadline_at: new Date(0).toISOString(),
  capture_status: 'none',
  capture_attempts: 0,
  created_at: new Date(0).toISOString(),
  updated_at: new Date(0).toISOString(),
};

/** A worker whose only due action cannot be timed out: Stripe refuses the cancel every time. */
function worker() {
  const excluded: string[][] = [];
  const dataSource = {
    query: jest.fn(async (sql: string, params: unknown[]) => {
      if (!sql.includes('deadline_at < now()')) return []; // captures, quiet checks: nothing due
      const skip = params[1] as string[];
      excluded.push(skip);
      return skip.includes(overdue.id) ? [] : [overdue];
    }),
  } as unknown as DataSource;
  const stop = jest.fn(async () => {
    throw new Error('terminal_reader_offline');
  });
  const payments = { followIfRunning: async () => null, stop } as unknown as ReaderPaymentsService;
  const readers = {
    byId: async () => ({ id: 'rdr_1', stripeReaderId: 'tmr_1' }),
  } as unknown as ReadersService;
  const logger = {
    pino: { warn: () => undefined, error: () => undefined, info: () => undefined },
  } as unknown as JsonLogger;
  const config = {
    TERMINAL_SWEEP_MS: 1000,
    READER_CHECK_MS: 0,
    READER_PENDING_GRACE_MS: 30_000,
    TERMINAL_AUTO_CAPTURE: true,
  } as TerminalConfig;
  return {
    w: new ReaderActionsWorker(dataSource, readers, payments, {} as UpstreamClient, logger, config),
    stop,
    excluded,
  };
}

describe('timing out silent readers', () => {
  afterEach(() => jest.useRealTimers());

  it('backs off an action whose cancel failed, doubling from twice the sweep interval, and leaves it out of the query meanwhile', async () => {
    jest.useFakeTimers({ now: 1_000_000, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { w, stop, excluded } = worker();
    await w.tick();
    expect(stop).toHaveBeenCalledTimes(1);
    await w.tick(); // a second later: still backing off (2 s)
    expect(stop).toHaveBeenCalledTimes(1);
    expect(excluded.at(-1)).toEqual(['ract_1']);
    jest.setSystemTime(1_000_000 + 2_001);
    await w.tick(); // due again; fails again: 4 s now
    expect(stop).toHaveBeenCalledTimes(2);
    jest.setSystemTime(1_000_000 + 2_001 + 3_000);
    await w.tick();
    expect(stop).toHaveBeenCalledTimes(2);
    jest.setSystemTime(1_000_000 + 2_001 + 4_001);
    await w.tick();
    expect(stop).toHaveBeenCalledTimes(3);
    w.onModuleDestroy();
  });
});
