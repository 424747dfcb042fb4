import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { reportOutboxFrom } from '@omnipay/observability';
import { DataSource } from 'typeorm';

/** Rows counted at most, so a scrape during a long Kafka outage stays one short index scan. */
const COUNT_CAP = 100_000;
/** A reading slower than this (the pool exhausted, the database struggling) gives up: the scrape must not time out. */
const READ_TIMEOUT_MS = 3000;

/** Feeds `outbox_unpublished_rows` and `outbox_oldest_unpublished_seconds` from this service's outbox when scraped. */
@Injectable()
export class OutboxMetrics implements OnModuleInit, OnModuleDestroy {
  constructor(@Inject(DataSource) private readonly dataSource: DataSource) {}

  onModuleInit(): void {
    const schema = String((this.dataSource.options as { schema?: string }).schema ?? 'public');
    reportOutboxFrom(async () => {
      let timer: NodeJS.Timeout | undefined;
      try {
        // Both through the partial index of unpublished rows; the oldest is the lowest seq.
        const reading = this.dataSource.query<{ rows: number; oldest: number | null }[]>(
          `SELECT (SELECT count(*)::int FROM (SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT ${COUNT_CAP}) u) AS rows,
                  (SELECT extract(epoch FROM clock_timestamp() - created_at)::float8
                     FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1) AS oldest`,
        );
        reading.catch(() => undefined); // may still settle after the timeout, unobserved
        const [row] = await Promise.race([
          reading,
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('slow')), READ_TIMEOUT_MS))),
        ]);
        return { schema, rows: row.rows, oldestSeconds: Math.max(0, row.oldest ?? 0) };
      } catch {
        return undefined; // database away or slow: no numbers rather than zeros that read as "all clear"
      } finally {
        clearTimeout(timer);
      }
    });
  }

  onModuleDestroy(): void {
    reportOutboxFrom(undefined);
  }
}
