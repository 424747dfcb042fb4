import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every verified Stripe event, once (the event id is the primary key: a redelivery is a conflict, not a row).
 * `payload` is the body exactly as signed, kept as text so it can be re-verified or replayed byte for byte.
 */
export class StripeEvents1710000000000 implements MigrationInterface {
  name = 'StripeEvents1710000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE stripe_events (
        event_id            text PRIMARY KEY,
        envelope_id         uuid NOT NULL,
        type                text NOT NULL,
        object_id           text NOT NULL,
        payment_intent_id   text,
        api_version         text,
        livemode            boolean NOT NULL,
        created             bigint NOT NULL,
        payload             text NOT NULL,
        received_at         timestamptz NOT NULL,
        secret_index        smallint NOT NULL,
        signature_timestamp bigint NOT NULL
      )`);
    await q.query('CREATE INDEX stripe_events_received_at ON stripe_events (received_at)');
    await q.query('CREATE INDEX stripe_events_type_received_at ON stripe_events (type, received_at)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE stripe_events');
  }
}
