import { Injectable } from '@nestjs/common';
import { StripeEventReceived } from '@omnipay/contracts';
import { OutboxService } from '@omnipay/messaging';
import { DataSource, type EntityManager } from 'typeorm';
import { envelopeIdFor, messageData, type StripeEventFacts } from './stripe-event';

/** A verified delivery, ready to store. */
export interface VerifiedDelivery {
  facts: StripeEventFacts;
  event: Record<string, unknown>;
  /** The body exactly as signed. */
  text: string;
  receivedAt: Date;
  secretIndex: number;
  signatureTimestamp: number;
  correlationId: string;
}

export type StoreOutcome = 'accepted' | 'duplicate';

const COLUMNS = [
  'event_id',
  'envelope_id',
  'type',
  'object_id',
  'payment_intent_id',
  'api_version',
  'livemode',
  'created',
  'payload',
  'received_at',
  'secret_index',
  'signature_timestamp',
] as const;

/** The outbox item that publishes a stored event; its envelope id depends only on the Stripe event id. */
export function outboxItem(
  facts: StripeEventFacts,
  event: Record<string, unknown>,
  receivedAt: Date,
  correlationId: string,
  text?: string,
) {
  return {
    definition: StripeEventReceived,
    data: messageData(facts, event, receivedAt, text),
    opts: {
      id: envelopeIdFor(facts.eventId),
      occurredAt: new Date(facts.created * 1000),
      correlationId,
      causationId: null,
    },
  };
}

/**
 * Stores deliveries and their `StripeEventReceived` messages in one transaction: one multi-row insert into
 * `stripe_events` (a known event id is a conflict, so a redelivery writes nothing) and one multi-row outbox
 * insert for the events that were new.
 */
@Injectable()
export class StripeEventStore {
  constructor(
    private readonly dataSource: DataSource,
    private readonly outbox: OutboxService,
  ) {}

  async storeAll(deliveries: VerifiedDelivery[]): Promise<StoreOutcome[]> {
    // The first copy of an event in the batch may be new; later copies in the same batch are duplicates.
    const firstIndex = new Map<string, number>();
    deliveries.forEach((d, i) => {
      if (!firstIndex.has(d.facts.eventId)) firstIndex.set(d.facts.eventId, i);
    });
    // Sorted by key, so concurrent batches take their index locks in one order and cannot deadlock each other.
    const unique = [...firstIndex.values()]
      .map((i) => deliveries[i])
      .sort((a, b) => (a.facts.eventId < b.facts.eventId ? -1 : 1));

    const inserted = await this.dataSource.transaction(async (manager) => {
      const ids = await this.insertEvents(manager, unique);
      const fresh = unique.filter((d) => ids.has(d.facts.eventId));
      await this.outbox.addMany(
        manager,
        fresh.map((d) => outboxItem(d.facts, d.event, d.receivedAt, d.correlationId, d.text)),
      );
      return ids;
    });
    if (inserted.size > 0) this.outbox.nudge();
    return deliveries.map((d, i) =>
      firstIndex.get(d.facts.eventId) === i && inserted.has(d.facts.eventId) ? 'accepted' : 'duplicate',
    );
  }

  private async insertEvents(manager: EntityManager, rows: VerifiedDelivery[]): Promise<Set<string>> {
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (const d of rows) {
      const f = d.facts;
      const n = values.length;
      tuples.push(`(${COLUMNS.map((_, j) => `$${n + j + 1}`).join(', ')})`);
      values.push(
        f.eventId,
        envelopeIdFor(f.eventId),
        f.type,
        f.objectId,
        f.paymentIntentId,
        f.apiVersion,
        f.livemode,
        f.created,
        d.text,
        d.receivedAt,
        d.secretIndex,
        d.signatureTimestamp,
      );
    }
    const result: { event_id: string }[] = await manager.query(
      `INSERT INTO stripe_events (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
       ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
      values,
    );
    return new Set(result.map((r) => r.event_id));
  }
}
