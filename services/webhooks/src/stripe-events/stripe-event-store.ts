import { Injectable } from '@nestjs/common';
import { Headers, StripeEventReceived } from '@omnipay/contracts';
import { OutboxService } from '@omnipay/messaging';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { envelopeIdFor, messageData, withoutClientSecrets, type StripeEventFacts } from './stripe-event';

/** The `source` of the envelopes this service writes (the service name, as `OutboxService` would put it). */
export const WEBHOOKS_SOURCE = 'webhooks';

/** A verified delivery, ready to store. */
export interface VerifiedDelivery {
  facts: StripeEventFacts;
  event: Record<string, unknown>;
  /** The body exactly as signed. */
  raw: Buffer;
  /** `raw` decoded (strict UTF-8). */
  text: string;
  receivedAt: Date;
  secretIndex: number;
  signatureTimestamp: number;
  correlationId: string;
  /** W3C trace context of the delivery's request; the published message continues it. */
  traceparent: string;
}

export type StoreOutcome = 'accepted' | 'duplicate';

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
 * The serialised `StripeEventReceived` envelope of a delivery, in two parts: `head` is everything up to the value
 * of `data.event`, and `event` is that value when it cannot be the signed text itself (the text carries a client
 * secret, or a `\u` escape that could spell one). The full payload is `head + (event ?? text) + '}}'`, so the
 * text, the bulk of the message, is sent to PostgreSQL once and the outbox row is assembled there.
 *
 * Same JSON, field for field, as `OutboxService.addMany` writes for `outboxItem(...)` (a unit test compares the
 * two): `createEnvelope`'s key order, `data` last and `event` last in `data`. The schema check `createEnvelope`
 * would run cannot fail here: `eventFacts` accepted exactly what `StripeEventReceived` requires.
 */
export function envelopeParts(
  d: VerifiedDelivery,
  envelopeId = envelopeIdFor(d.facts.eventId),
): { head: string; event: string | null } {
  const f = d.facts;
  const withText = !d.text.includes('client_secret') && !d.text.includes('\\u');
  const head = JSON.stringify({
    id: envelopeId,
    type: StripeEventReceived.type,
    version: StripeEventReceived.version,
    occurredAt: new Date(f.created * 1000).toISOString(),
    source: WEBHOOKS_SOURCE,
    correlationId: d.correlationId,
    causationId: null,
    data: {
      stripeEventId: f.eventId,
      stripeType: f.type,
      objectId: f.objectId,
      paymentIntentId: f.paymentIntentId,
      apiVersion: f.apiVersion,
      livemode: f.livemode,
      created: f.created,
      receivedAt: d.receivedAt.toISOString(),
      event: null,
    },
  });
  return {
    // Drop the placeholder `null}}`.
    head: head.slice(0, -6),
    event: withText ? null : JSON.stringify(withoutClientSecrets(d.event)),
  };
}

/**
 * The rows of one batch, in the two parameters `STORE_SQL` reads: `rows` (JSON: the small columns of each event,
 * and where its texts lie in `bytes`) and `bytes` (binary: each event's envelope head, its body exactly as signed,
 * and, when the body cannot be published as is, its published copy). The texts, nearly all of a batch's volume,
 * thus go to PostgreSQL as raw bytes: the request body is never escaped into a JSON string or an array literal.
 * The outbox row is `head || coalesce(published copy, body) || '}}'`, as `OutboxService.addMany` would write it
 * for `outboxItem(...)` (a unit test holds the two together).
 */
export interface StoreParams {
  rows: Record<string, unknown>[];
  bytes: Buffer;
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/**
 * A string PostgreSQL's JSON parser accepts: a lone surrogate (a `\ud800` escape in the event, parsed by
 * JSON.parse) becomes U+FFFD, as it did when these columns were bound as text parameters; the JSON parser would
 * refuse the whole batch instead.
 */
function wellFormed<T extends string | null>(s: T): T {
  return (s === null ? s : s.replace(LONE_SURROGATE, '\ufffd')) as T;
}

export function storeParams(deliveries: readonly VerifiedDelivery[], ords: readonly number[]): StoreParams {
  const rows: Record<string, unknown>[] = [];
  const parts: Buffer[] = [];
  let at = 0;
  const put = (b: Buffer): [number, number] => {
    parts.push(b);
    const span: [number, number] = [at, b.length];
    at += b.length;
    return span;
  };
  deliveries.forEach((d, i) => {
    const f = d.facts;
    const envelopeId = envelopeIdFor(f.eventId);
    const { head, event } = envelopeParts(d, envelopeId);
    const [hOff, hLen] = put(Buffer.from(head, 'utf8'));
    // The signed bytes are `text` encoded, except for a leading BOM, which the UTF-8 decoder drops from `text`.
    const raw = d.raw.subarray(0, 3).equals(UTF8_BOM) ? d.raw.subarray(3) : d.raw;
    const [pOff, pLen] = put(raw);
    const [eOff, eLen] = event === null ? [null, null] : put(Buffer.from(event, 'utf8'));
    rows.push({
      ord: ords[i],
      event_id: f.eventId,
      envelope_id: envelopeId,
      type: wellFormed(f.type),
      object_id: wellFormed(f.objectId),
      payment_intent_id: wellFormed(f.paymentIntentId),
      api_version: wellFormed(f.apiVersion),
      livemode: f.livemode,
      created: f.created,
      received_at: d.receivedAt,
      secret_index: d.secretIndex,
      signature_timestamp: d.signatureTimestamp,
      // `StripeEventReceived.key` of the message.
      key: wellFormed(f.paymentIntentId ?? f.objectId),
      correlation_id: d.correlationId,
      traceparent: d.traceparent,
      h_off: hOff,
      h_len: hLen,
      p_off: pOff,
      p_len: pLen,
      e_off: eOff,
      e_len: eLen,
    });
  });
  return { rows, bytes: Buffer.concat(parts, at) };
}

const text = (off: string, len: string) =>
  `convert_from(substring($2::bytea FROM ${off} + 1 FOR ${len}), 'UTF8')`;

/**
 * One statement stores a whole batch and its outbox messages: the events go in sorted by id (concurrent batches
 * take their index locks in one order, so they cannot deadlock each other), a known event id is a conflict and
 * writes nothing, and only the events that were new get an outbox row, in arrival order. A single statement is
 * its own transaction: both inserts commit together or not at all, in one round trip, with no BEGIN/COMMIT.
 * The statement text does not depend on the batch, so it is prepared once per connection.
 */
export const STORE_SQL = `
WITH r AS MATERIALIZED (
  SELECT r.*, ${text('r.p_off', 'r.p_len')} AS payload
    FROM json_to_recordset($1::json) AS r(
      ord int, event_id text, envelope_id uuid, type text, object_id text, payment_intent_id text, api_version text,
      livemode boolean, created bigint, received_at timestamptz, secret_index smallint, signature_timestamp bigint,
      key text, correlation_id text, traceparent text,
      h_off int, h_len int, p_off int, p_len int, e_off int, e_len int)
), ins AS (
  INSERT INTO stripe_events (event_id, envelope_id, type, object_id, payment_intent_id, api_version, livemode,
                             created, payload, received_at, secret_index, signature_timestamp)
  SELECT event_id, envelope_id, type, object_id, payment_intent_id, api_version, livemode,
         created, payload, received_at, secret_index, signature_timestamp
    FROM r ORDER BY event_id
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
), pub AS (
  INSERT INTO outbox (id, topic, key, payload, headers)
  SELECT r.envelope_id, $3, r.key,
         ${text('r.h_off', 'r.h_len')} || coalesce(${text('r.e_off', 'r.e_len')}, r.payload) || '}}',
         jsonb_build_object('${Headers.correlationId}', r.correlation_id, '${Headers.traceparent}', r.traceparent,
                            '${Headers.messageType}', $4::text, '${Headers.messageVersion}', $5::text,
                            '${Headers.subject}', r.type)
    FROM r JOIN ins USING (event_id) ORDER BY r.ord
  ON CONFLICT (id) DO NOTHING
)
SELECT event_id FROM ins`;

/** Prepared-statement name; change it with the SQL (a connection keeps the first text it prepared under a name). */
const STORE_STATEMENT = 'webhooks_store_events_v3';

/**
 * Stores deliveries and their `StripeEventReceived` messages atomically. Talks to the pool under TypeORM
 * directly: this is the service's hot path, and one prepared statement per batch is all it needs.
 */
@Injectable()
export class StripeEventStore {
  private readonly pool: Pool;

  constructor(
    dataSource: DataSource,
    private readonly outbox: OutboxService,
  ) {
    this.pool = (dataSource.driver as unknown as { master: Pool }).master;
  }

  async storeAll(deliveries: VerifiedDelivery[]): Promise<StoreOutcome[]> {
    // The first copy of an event in the batch may be new; later copies in the same batch are duplicates.
    const firstIndex = new Map<string, number>();
    const unique: VerifiedDelivery[] = [];
    const ords: number[] = [];
    deliveries.forEach((d, i) => {
      if (firstIndex.has(d.facts.eventId)) return;
      firstIndex.set(d.facts.eventId, i);
      unique.push(d);
      ords.push(i);
    });
    const { rows, bytes } = storeParams(unique, ords);
    const result = await this.pool.query<{ event_id: string }>({
      name: STORE_STATEMENT,
      text: STORE_SQL,
      values: [
        JSON.stringify(rows),
        bytes,
        StripeEventReceived.topic,
        StripeEventReceived.type,
        String(StripeEventReceived.version),
      ],
    });
    const inserted = new Set(result.rows.map((r) => r.event_id));
    if (inserted.size > 0) this.outbox.nudge();
    return deliveries.map((d, i) =>
      firstIndex.get(d.facts.eventId) === i && inserted.has(d.facts.eventId) ? 'accepted' : 'duplicate',
    );
  }
}
