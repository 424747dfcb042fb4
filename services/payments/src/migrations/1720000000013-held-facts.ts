import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Refund and dispute facts of a payment that has not reached a final status yet (decision 0025), kept back as the
 * outbox rows they will be, in the order they were decided, until `payment.succeeded` (or `payment.canceled`) is
 * written; then moved to the outbox behind it.
 */
export class HeldFacts1720000000013 implements MigrationInterface {
  name = 'HeldFacts1720000000013';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE held_facts (
        seq        bigserial PRIMARY KEY,
        payment_id text NOT NULL REFERENCES payments (id),
        id         uuid NOT NULL UNIQUE,
        topic      text NOT NULL,
        key        text NOT NULL,
        payload    text NOT NULL,
        headers    jsonb NOT NULL DEFAULT '{}',
        held_at    timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`CREATE INDEX held_facts_payment ON held_facts (payment_id, seq)`);
    // How many facts a payment holds, on its row: a reader that waited for the row's lock gets the newest row, while
    // a sub-select of the same statement would still read held_facts as of before the wait. (A constant default:
    // no rewrite of the table.)
    await q.query(`ALTER TABLE payments ADD COLUMN held_facts int NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE payments DROP COLUMN held_facts`);
    await q.query(`DROP TABLE held_facts`);
  }
}
