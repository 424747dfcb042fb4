import { metricsRegistry, reportOutboxFrom } from './metrics';

const samples = async (name: string) =>
  (await metricsRegistry.getSingleMetricAsString(name)).split('\n').filter((l) => l.startsWith(name));

describe('outbox backlog gauges', () => {
  afterEach(() => reportOutboxFrom(undefined));

  it('report the reading of the service outbox under its schema', async () => {
    reportOutboxFrom(async () => ({ schema: 'payments', rows: 42, oldestSeconds: 7.5 }));
    expect(await samples('outbox_unpublished_rows')).toEqual(['outbox_unpublished_rows{schema="payments"} 42']);
    expect(await samples('outbox_oldest_unpublished_seconds')).toEqual(['outbox_oldest_unpublished_seconds{schema="payments"} 7.5']);
  });

  it('have no series, not a zero that reads as all clear, when there is no reading (database away, no outbox)', async () => {
    reportOutboxFrom(async () => ({ schema: 'payments', rows: 42, oldestSeconds: 7.5 }));
    await samples('outbox_unpublished_rows');
    reportOutboxFrom(async () => undefined);
    expect(await samples('outbox_unpublished_rows')).toEqual([]);
    expect(await samples('outbox_oldest_unpublished_seconds')).toEqual([]);
    reportOutboxFrom(undefined);
    expect(await samples('outbox_unpublished_rows')).toEqual([]);
  });
});
