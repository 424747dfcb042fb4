import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A reconciled payout's copied lines are deleted after PAYOUT_LINES_RETENTION_DAYS, the payout marked, so the lines
 * API can tell "deleted" from "none" and the worker finds the next payout due without looking at the pruned ones.
 * The payouts table is small (a payout a day per currency): a plain index.
 */
export class PayoutLinesRetention1720000000014 implements MigrationInterface {
  name = 'PayoutLinesRetention1720000000014';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payouts ADD COLUMN lines_pruned_at timestamptz`);
    await q.query(
      `CREATE INDEX payouts_lines_kept ON payouts ((COALESCE(reconciled_at, updated_at))) WHERE recon_state = 'done' AND lines_pruned_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX payouts_lines_kept`);
    await q.query(`ALTER TABLE payouts DROP COLUMN lines_pruned_at`);
  }
}
