import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A version counter on reconciliation sources. Every reopen bumps it; the worker marks a source done (or puts
 * it back) only at the generation it claimed, so a source reopened while the worker was reading Stripe stays
 * due instead of being closed with what was read before the reopen (a lost entry for finance).
 */
export class ReconciliationGeneration1720000000001 implements MigrationInterface {
  name = 'ReconciliationGeneration1720000000001';

  async up(q: QueryRunner): Promise<void> {
    // A constant default: PostgreSQL adds the column without rewriting the table.
    await q.query(`ALTER TABLE reconciliation_sources ADD COLUMN generation int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE reconciliation_sources DROP COLUMN IF EXISTS generation`);
  }
}
