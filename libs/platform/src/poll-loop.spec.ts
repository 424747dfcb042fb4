import { PollLoop } from './poll-loop';

/** A loop whose first pass runs until `release()`, with a long interval: only wake-ups start another pass. */
function firstPassHeld() {
  let calls = 0;
  let release!: () => void;
  const loop = new PollLoop({
    intervalMs: 60_000,
    pass: async () => {
      calls++;
      if (calls === 1) await new Promise<void>((r) => (release = r));
      return false;
    },
    onError: () => undefined,
  });
  return { loop, calls: () => calls, release: () => release() };
}

/** Fake timers: the loop's behaviour, not this machine's speed. */
describe('a worker poll loop', () => {
  let loop: PollLoop | undefined;
  beforeEach(() => jest.useFakeTimers());
  afterEach(async () => {
    const stopping = loop?.stop();
    await jest.runOnlyPendingTimersAsync();
    await stopping;
    jest.useRealTimers();
  });

  it('polls at its interval and runs again at once while passes come back full', async () => {
    let passes = 0;
    let backlog = 3;
    loop = new PollLoop({ intervalMs: 1000, pass: async () => (passes++, backlog-- > 0), onError: () => undefined });
    loop.start(0);
    await jest.advanceTimersByTimeAsync(10);
    expect(passes).toBe(4); // three full passes, then one that found the rest
    await jest.advanceTimersByTimeAsync(900);
    expect(passes).toBe(4);
    await jest.advanceTimersByTimeAsync(200);
    expect(passes).toBe(5); // then the interval
  });

  it('runs one more pass right after the current one when woken during it', async () => {
    const first = firstPassHeld();
    loop = first.loop;
    loop.start(0);
    await jest.advanceTimersByTimeAsync(10);
    loop.soon(); // new work committed while the first pass runs
    await jest.advanceTimersByTimeAsync(100);
    expect(first.calls()).toBe(1);
    first.release();
    await jest.advanceTimersByTimeAsync(10);
    expect(first.calls()).toBe(2); // not an interval later
  });

  it('keeps a wake-up that came during a pass shorter than the wake-up delay', async () => {
    const first = firstPassHeld();
    loop = first.loop;
    loop.start(0);
    await jest.advanceTimersByTimeAsync(1);
    loop.soon(50);
    first.release(); // the pass ends before the wake-up's 50 ms are up
    await jest.advanceTimersByTimeAsync(100);
    expect(first.calls()).toBe(2);
  });

  it('reports a failed pass and goes on, even when the report fails; after stop nothing runs', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    loop = new PollLoop({
      intervalMs: 30,
      pass: async () => {
        calls++;
        if (calls === 1) throw new Error('database down');
        return false;
      },
      onError: (e) => {
        errors.push(e);
        throw new Error('the logger failed too');
      },
    });
    loop.start(0);
    await jest.advanceTimersByTimeAsync(40);
    expect(errors).toHaveLength(1);
    expect(calls).toBe(2);
    await loop.stop();
    loop.soon(0);
    await jest.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(2);
  });
});
