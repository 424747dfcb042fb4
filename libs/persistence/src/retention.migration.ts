import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Lets the retention sweeper find old inbox records without reading the table (decision 0015). The outbox needs no
 * index: the sweeper looks at its oldest rows by `seq`.
 */
export class MessagingRetention1700000000010 implements MigrationInterface {
  name = 'MessagingRetention1700000000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS inbox_processed_at ON inbox (processed_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS inbox_processed_at`);
  }
}
