import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Stripe payouts as the platform observed them, and the balance transactions each paid out (decision 0019). A payout
 * is recorded in the Stripe-events consumer's transaction; a worker lists its transactions outside it and compares
 * them with the reconciliation entries.
 */
export class Payouts1720000000011 implements MigrationInterface {
  name = 'Payouts1720000000011';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS payouts (
        id text PRIMARY KEY,
        amount bigint NOT NULL,
        currency text NOT NULL,
        arrival_date timestamptz NOT NULL,
        automatic boolean NOT NULL,
        status text NOT NULL,
        stripe_reconciliation_status text,
        balance_transaction_id text,
        failure_code text,
        failure_message text,
        failure_balance_transaction_id text,
        observed_at timestamptz NOT NULL,
        recorded_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        -- The reconciliation's own life: waiting (until paid and attributed), due, done.
        recon_state text NOT NULL DEFAULT 'waiting' CHECK (recon_state IN ('waiting', 'due', 'done')),
        run_id uuid,
        lease_until timestamptz,
        attempts int NOT NULL DEFAULT 0,
        -- Runs that found the platform's lines still waiting for their entries (counted apart from other retries).
        pending_runs int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        outcome text,
        result jsonb,
        reconciled_at timestamptz,
        failure_announced boolean NOT NULL DEFAULT false
      )`);
    await q.query(`CREATE INDEX IF NOT EXISTS payouts_due ON payouts (next_attempt_at) WHERE recon_state = 'due'`);
    await q.query(`CREATE INDEX IF NOT EXISTS payouts_page ON payouts (arrival_date DESC, id DESC)`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS payout_lines (
        payout_id text NOT NULL REFERENCES payouts(id),
        txn_id text NOT NULL,
        type text NOT NULL,
        reporting_category text,
        source_id text,
        amount bigint NOT NULL,
        fee bigint NOT NULL,
        net bigint NOT NULL,
        currency text NOT NULL,
        created timestamptz NOT NULL,
        PRIMARY KEY (payout_id, txn_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS payout_lines`);
    await q.query(`DROP TABLE IF EXISTS payouts`);
  }
}
