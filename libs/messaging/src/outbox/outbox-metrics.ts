import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { readForScrape, reportOutboxFrom } from '@omnipay/observability';
import { DataSource } from 'typeorm';

/** Rows counted at most, so a scrape during a long Kafka outage stays one short index scan. */
const COUNT_CAP = 100_000;

/** Feeds `outbox_unpublished_rows` and `outbox_oldest_unpublished_seconds` from this service's outbox when scraped. */
@Injectable()
export class OutboxMetrics implements OnModuleInit, OnModuleDestroy {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    const schema = String((this.dataSource.options as { schema?: string }).schema ?? 'public');
    reportOutboxFrom(async () => {
      // Both through the partial index of unpublished rows; the oldest is the lowest seq.
      const row = await readForScrape('outbox', async () => {
        const [r] = await this.dataSource.query<{ rows: number; oldest: number | null }[]>(
          `SELECT (SELECT count(*)::int FROM (SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT ${COUNT_CAP}) u) AS rows,
                  (SELECT extract(epoch FROM clock_timestamp() - created_at)::float8
                     FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1) AS oldest`,
        );
        return r;
      });
      // Database away or slow: no numbers rather than zeros that read as "all clear".
      return row && { schema, rows: row.rows, oldestSeconds: Math.max(0, row.oldest ?? 0) };
    });
  }

  onModuleDestroy(): void {
    reportOutboxFrom(undefined);
  }
}
