import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Terminal1730000000000 implements MigrationInterface {
  name = 'Terminal1730000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE stores (
        id text PRIMARY KEY,
        display_name text NOT NULL,
        address jsonb NOT NULL,
        stripe_location_id text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE readers (
        id text PRIMARY KEY,
        store_id text NOT NULL REFERENCES stores (id),
        stripe_reader_id text NOT NULL UNIQUE,
        label text NOT NULL,
        device_type text,
        serial_number text,
        registered_at timestamptz NOT NULL DEFAULT now(),
        deregistered_at timestamptz
      )`);
    await q.query(`CREATE INDEX readers_store ON readers (store_id) WHERE deregistered_at IS NULL`);
    await q.query(`
      CREATE TABLE reader_actions (
        id text PRIMARY KEY,
        reader_id text NOT NULL REFERENCES readers (id),
        store_id text NOT NULL REFERENCES stores (id),
        order_id text NOT NULL,
        customer_id text,
        amount bigint NOT NULL CHECK (amount > 0),
        currency text NOT NULL,
        amount_to_capture bigint CHECK (amount_to_capture > 0),
        attempt int NOT NULL,
        payment_id text,
        payment_intent_id text,
        state text NOT NULL CHECK (state IN ('pending','in_progress','succeeded','failed','canceled','timed_out')),
        failure_code text,
        failure_message text,
        deadline_at timestamptz NOT NULL,
        capture_status text NOT NULL DEFAULT 'none'
          CHECK (capture_status IN ('none','pending','captured','failed')),
        capture_requested boolean NOT NULL DEFAULT false,
        capture_idempotency_key text,
        capture_attempts int NOT NULL DEFAULT 0,
        capture_error text,
        next_capture_at timestamptz,
        captured_amount bigint,
        captured_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`);
    // A reader runs one action at a time, and an order is on at most one reader at a time: enforced here, before
    // Stripe or payments are asked for anything, so two concurrent requests cannot both start a charge.
    await q.query(
      `CREATE UNIQUE INDEX reader_actions_one_per_reader ON reader_actions (reader_id) WHERE state IN ('pending','in_progress')`,
    );
    await q.query(
      `CREATE UNIQUE INDEX reader_actions_one_per_order ON reader_actions (order_id) WHERE state IN ('pending','in_progress')`,
    );
    await q.query(`CREATE INDEX reader_actions_order ON reader_actions (order_id, created_at)`);
    await q.query(`CREATE INDEX reader_actions_pi ON reader_actions (payment_intent_id)`);
    await q.query(
      `CREATE INDEX reader_actions_open ON reader_actions (deadline_at) WHERE state IN ('pending','in_progress')`,
    );
    await q.query(
      `CREATE INDEX reader_actions_to_capture ON reader_actions (next_capture_at) WHERE capture_status = 'pending'`,
    );
    await q.query(`
      CREATE TABLE applied_stripe_events (
        event_id text PRIMARY KEY,
        type text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE applied_stripe_events`);
    await q.query(`DROP TABLE reader_actions`);
    await q.query(`DROP TABLE readers`);
    await q.query(`DROP TABLE stores`);
  }
}
