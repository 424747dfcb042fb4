import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A verified Stripe event as stored (table created by `StripeEvents1710000000000`). */
@Entity({ name: 'stripe_events' })
export class StripeEventEntity {
  @PrimaryColumn({ name: 'event_id', type: 'text' })
  eventId!: string;

  @Column({ name: 'envelope_id', type: 'uuid' })
  envelopeId!: string;

  @Column({ type: 'text' })
  type!: string;

  @Column({ name: 'object_id', type: 'text' })
  objectId!: string;

  @Column({ name: 'payment_intent_id', type: 'text', nullable: true })
  paymentIntentId!: string | null;

  @Column({ name: 'api_version', type: 'text', nullable: true })
  apiVersion!: string | null;

  @Column({ type: 'boolean' })
  livemode!: boolean;

  /** Stripe's `created`, unix seconds (bigint comes back from pg as a string). */
  @Column({ type: 'bigint' })
  created!: string;

  /** The body exactly as signed. */
  @Column({ type: 'text' })
  payload!: string;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt!: Date;

  /** Which configured secret verified it (its position in STRIPE_WEBHOOK_SECRETS, never the secret). */
  @Column({ name: 'secret_index', type: 'smallint' })
  secretIndex!: number;

  @Column({ name: 'signature_timestamp', type: 'bigint' })
  signatureTimestamp!: string;
}
