import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A day's audit of the reconciliation entries against Stripe's balance transactions (decision 0016), and the
 * copy of Stripe's list a run compares with: compared by PostgreSQL, so a busy day's list need not fit in memory.
 */
export class ReconciliationAudits1720000000007 implements MigrationInterface {
  name = 'ReconciliationAudits1720000000007';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS reconciliation_audits (
        day date PRIMARY KEY,
        status text NOT NULL CHECK (status IN ('requested','running','done','failed')),
        requested_at timestamptz NOT NULL DEFAULT now(),
        requested_by text NOT NULL,
        run_id uuid,
        runs int NOT NULL DEFAULT 0,
        attempts int NOT NULL DEFAULT 0,
        lease_until timestamptz,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        outcome text CHECK (outcome IN ('clean','pending','mismatches')),
        result jsonb,
        last_error text
      )`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS reconciliation_audit_stripe_txns (
        run_id uuid NOT NULL,
        txn_id text NOT NULL,
        source_id text,
        type text NOT NULL,
        amount bigint NOT NULL,
        fee bigint NOT NULL,
        net bigint NOT NULL,
        currency text NOT NULL,
        created timestamptz NOT NULL,
        PRIMARY KEY (run_id, txn_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS reconciliation_audit_stripe_txns`);
    await q.query(`DROP TABLE IF EXISTS reconciliation_audits`);
  }
}
