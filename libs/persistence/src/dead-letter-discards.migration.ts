import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A dead letter an operator discarded (no release will ever apply it: a producer's garbage) is settled like a
 * redriven one, so it leaves the pending count and the oldest-first listing, and says so (decision 0021).
 */
export class MessagingDeadLetterDiscards1700000000030 implements MigrationInterface {
  name = 'MessagingDeadLetterDiscards1700000000030';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dead_letters ADD COLUMN discarded boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dead_letters DROP COLUMN discarded`);
  }
}
