import { MicroBatcher } from './micro-batcher';

describe('MicroBatcher', () => {
  it('puts concurrent submissions into one batch and answers each with its own result', async () => {
    const batches: number[][] = [];
    const b = new MicroBatcher<number, number>(async (xs) => (batches.push(xs), xs.map((x) => x * 10)), {
      maxBatch: 100,
      maxWaitMs: 5,
      concurrency: 1,
    });
    const results = await Promise.all([1, 2, 3].map((x) => b.submit(x)));
    expect(results).toEqual([10, 20, 30]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('never exceeds the batch size or the concurrency, and queued items form the next batch', async () => {
    let running = 0;
    let maxRunning = 0;
    const sizes: number[] = [];
    const b = new MicroBatcher<number, number>(
      async (xs) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        sizes.push(xs.length);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return xs;
      },
      { maxBatch: 4, maxWaitMs: 1, concurrency: 2 },
    );
    const all = Array.from({ length: 23 }, (_, i) => i);
    expect(await Promise.all(all.map((x) => b.submit(x)))).toEqual(all);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4);
    expect(maxRunning).toBeLessThanOrEqual(2);
    expect(sizes.reduce((a, c) => a + c, 0)).toBe(23);
  });

  it('fails every caller of a failed batch, and later batches still run', async () => {
    let calls = 0;
    const b = new MicroBatcher<number, number>(
      async (xs) => {
        if (calls++ === 0) throw new Error('db down');
        return xs;
      },
      { maxBatch: 10, maxWaitMs: 1, concurrency: 1 },
    );
    const first = [b.submit(1), b.submit(2)];
    await expect(first[0]).rejects.toThrow('db down');
    await expect(first[1]).rejects.toThrow('db down');
    await expect(b.submit(3)).resolves.toBe(3);
  });
});
