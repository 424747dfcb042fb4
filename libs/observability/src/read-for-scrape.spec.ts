import { metricsRegistry, readForScrape } from './metrics';

const failures = async (gauge: string) =>
  (await metricsRegistry.getSingleMetric('metrics_reading_failures_total')?.get())?.values.find((v) => v.labels.gauge === gauge)?.value ?? 0;

describe('readForScrape', () => {
  it('gives the reading when it comes in time', async () => {
    expect(await readForScrape('test_ok', async () => 42)).toBe(42);
    expect(await failures('test_ok')).toBe(0);
  });

  it('gives nothing and counts a failure when the reading fails', async () => {
    expect(await readForScrape('test_failed', () => Promise.reject(new Error('connection refused')))).toBeUndefined();
    expect(await failures('test_failed')).toBe(1);
  });

  it('gives up on a slow reading instead of holding the scrape, and counts it', async () => {
    // It would answer 1, later than the scrape waits.
    expect(await readForScrape('test_slow', () => new Promise((resolve) => setTimeout(() => resolve(1), 300)), 20)).toBeUndefined();
    expect(await failures('test_slow')).toBe(1);
  });
});
