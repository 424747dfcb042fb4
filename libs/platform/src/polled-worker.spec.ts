import type { JsonLogger } from '@omnipay/observability';
import { PolledWorker } from './polled-worker';

class Worker extends PolledWorker {
  passes = 0;
  constructor(
    logger: JsonLogger,
    private readonly behave: () => Promise<boolean>,
    firstDelayMs?: number,
  ) {
    super({ name: 'test work', intervalMs: 1000, logger, firstDelayMs });
  }
  protected async pass(): Promise<boolean> {
    this.passes++;
    return this.behave();
  }
}

/** Fake timers: the worker's life, not this machine's speed. */
describe('a polled worker', () => {
  const warnings: unknown[][] = [];
  const logger = { pino: { warn: (...a: unknown[]) => warnings.push(a) } } as unknown as JsonLogger;
  beforeEach(() => {
    warnings.length = 0;
    jest.useFakeTimers();
  });
  afterEach(() => jest.useRealTimers());

  it('starts with the application after its first delay, and a wake-up runs a pass before the interval', async () => {
    const w = new Worker(logger, async () => false, 100);
    w.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(99);
    expect(w.passes).toBe(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(w.passes).toBe(1);
    w.soon();
    await jest.advanceTimersByTimeAsync(60);
    expect(w.passes).toBe(2);
    const stopping = w.onApplicationShutdown();
    await jest.runOnlyPendingTimersAsync();
    await stopping;
  });

  it('logs a failed pass under its name and goes on at the next interval', async () => {
    let fail = true;
    const w = new Worker(logger, async () => {
      if (fail) throw new Error('database away');
      return false;
    });
    w.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(1000);
    expect(warnings).toEqual([[{ err: new Error('database away') }, 'test work pass failed; will retry']]);
    fail = false;
    await jest.advanceTimersByTimeAsync(1000);
    expect(w.passes).toBe(2);
    const stopping = w.onApplicationShutdown();
    await jest.runOnlyPendingTimersAsync();
    await stopping;
  });

  it('finishes the pass under way at shutdown and starts no other', async () => {
    let release!: () => void;
    const w = new Worker(logger, () => new Promise<boolean>((r) => (release = () => r(true))), 0);
    w.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    expect(w.passes).toBe(1);
    let stopped = false;
    const stopping = w.onApplicationShutdown().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(10);
    expect(stopped).toBe(false);
    release(); // a full pass: it would run again at once, were it not stopping
    await stopping;
    await jest.advanceTimersByTimeAsync(5000);
    expect(w.passes).toBe(1);
  });
});
