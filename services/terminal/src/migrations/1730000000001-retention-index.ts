import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Lets the retention sweeper find old applied-event ids by age without reading the table (decision 0015). */
export class RetentionIndex1730000000001 implements MigrationInterface {
  name = 'RetentionIndex1730000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX IF NOT EXISTS applied_stripe_events_applied_at ON applied_stripe_events (applied_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS applied_stripe_events_applied_at`);
  }
}
