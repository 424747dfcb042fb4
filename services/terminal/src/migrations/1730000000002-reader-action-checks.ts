import type { MigrationInterface, QueryRunner } from 'typeorm';

/** When the sweeper last read from Stripe what became of an in-progress action (READER_CHECK_MS). */
export class ReaderActionChecks1730000000002 implements MigrationInterface {
  name = 'ReaderActionChecks1730000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE reader_actions ADD COLUMN checked_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE reader_actions DROP COLUMN checked_at`);
  }
}
