import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Reconciled payouts by when, for the retention of their lines (PAYOUT_LINES_RETENTION_DAYS). */
export class PayoutLinesRetention1720000000014 implements MigrationInterface {
  name = 'PayoutLinesRetention1720000000014';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX payouts_reconciled ON payouts (reconciled_at) WHERE recon_state = 'done'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX payouts_reconciled`);
  }
}
