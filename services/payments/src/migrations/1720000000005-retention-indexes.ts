import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Lets the retention sweeper find old rows by age without reading whole tables (decision 0015). */
export class RetentionIndexes1720000000005 implements MigrationInterface {
  name = 'RetentionIndexes1720000000005';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS applied_stripe_events_applied_at ON applied_stripe_events (applied_at)`);
    await q.query(`CREATE INDEX IF NOT EXISTS idempotent_requests_created_at ON idempotent_requests (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS idempotent_requests_created_at`);
    await q.query(`DROP INDEX IF EXISTS applied_stripe_events_applied_at`);
  }
}
