import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Payments1720000000000 implements MigrationInterface {
  name = 'Payments1720000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE payments (
        id text PRIMARY KEY,
        order_id text NOT NULL,
        attempt int NOT NULL,
        channel text NOT NULL CHECK (channel IN ('web','app','pos')),
        store_id text,
        customer_id text,
        amount bigint NOT NULL CHECK (amount > 0),
        currency text NOT NULL,
        capture_method text NOT NULL,
        setup_future_usage text,
        stripe_customer_id text,
        payment_intent_id text UNIQUE,
        status text NOT NULL,
        cycle int NOT NULL DEFAULT 0,
        status_observed_at bigint NOT NULL DEFAULT 0,
        amount_capturable bigint NOT NULL DEFAULT 0,
        amount_received bigint NOT NULL DEFAULT 0,
        amount_refunded bigint NOT NULL DEFAULT 0,
        amount_refunded_observed_at bigint NOT NULL DEFAULT 0,
        charge_id text,
        failure_code text,
        decline_code text,
        failure_message text,
        disputed boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        checked_at timestamptz,
        UNIQUE (order_id, attempt)
      )`);
    await q.query(`CREATE INDEX payments_charge ON payments (charge_id) WHERE charge_id IS NOT NULL`);
    await q.query(
      `CREATE INDEX payments_open ON payments (updated_at) WHERE status NOT IN ('succeeded','canceled')`,
    );
    // One row per transition announced: the primary key is what makes "exactly one event per real transition".
    await q.query(`
      CREATE TABLE payment_transitions (
        payment_id text NOT NULL REFERENCES payments(id),
        transition_key text NOT NULL,
        to_status text,
        source text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (payment_id, transition_key)
      )`);
    await q.query(`
      CREATE TABLE refund_requests (
        id text PRIMARY KEY,
        payment_id text NOT NULL REFERENCES payments(id),
        amount bigint NOT NULL CHECK (amount > 0),
        reason text NOT NULL,
        returned_items jsonb NOT NULL DEFAULT '[]',
        return_store_id text,
        fingerprint text NOT NULL,
        status text NOT NULL,
        refund_id text UNIQUE,
        error jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX refund_requests_payment ON refund_requests (payment_id)`);
    await q.query(`
      CREATE TABLE refunds (
        refund_id text PRIMARY KEY,
        payment_id text NOT NULL REFERENCES payments(id),
        refund_request_id text,
        amount bigint NOT NULL,
        status text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX refunds_payment ON refunds (payment_id)`);
    await q.query(`
      CREATE TABLE applied_stripe_events (
        event_id text PRIMARY KEY,
        type text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE stripe_customers (
        customer_id text PRIMARY KEY,
        stripe_customer_id text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE idempotent_requests (
        scope text NOT NULL,
        key text NOT NULL,
        fingerprint text NOT NULL,
        status int NOT NULL,
        body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, key)
      )`);
    await q.query(`
      CREATE TABLE reconciliation_sources (
        source_id text PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('charge','refund','dispute')),
        payment_id text NOT NULL REFERENCES payments(id),
        attempts int NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        done_at timestamptz,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE INDEX reconciliation_sources_due ON reconciliation_sources (next_attempt_at) WHERE done_at IS NULL`,
    );
    await q.query(`
      CREATE TABLE reconciliation_entries (
        entry_id text PRIMARY KEY,
        kind text NOT NULL,
        order_id text NOT NULL,
        payment_id text NOT NULL,
        payment_intent_id text NOT NULL,
        charge_id text,
        source_id text NOT NULL,
        balance_transaction_id text NOT NULL,
        channel text NOT NULL,
        store_id text,
        gross bigint NOT NULL,
        fee bigint NOT NULL,
        net bigint NOT NULL,
        currency text NOT NULL,
        occurred_at timestamptz NOT NULL,
        available_on timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE INDEX reconciliation_entries_page ON reconciliation_entries (occurred_at, entry_id)`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of [
      'reconciliation_entries',
      'reconciliation_sources',
      'idempotent_requests',
      'stripe_customers',
      'applied_stripe_events',
      'refunds',
      'refund_requests',
      'payment_transitions',
      'payments',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${t}`);
    }
  }
}
