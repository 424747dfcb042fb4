import { Headers, StripeEventReceived } from '@omnipay/contracts';
import { OutboxService, type MessagingSettings } from '@omnipay/messaging';
import type { EntityManager } from 'typeorm';
import { parseStripeEvent } from './stripe-event';
import { outboxItem, storeParams, WEBHOOKS_SOURCE, type VerifiedDelivery } from './stripe-event-store';

/** What `OutboxService.addMany` writes for `outboxItem(...)`: the reference the single-statement store must match. */
async function viaOutboxService(d: VerifiedDelivery) {
  let values: unknown[] = [];
  const manager = {
    query: async (_sql: string, v: unknown[]) => {
      values = v;
    },
  } as unknown as EntityManager;
  const outbox = new OutboxService({ service: WEBHOOKS_SOURCE } as MessagingSettings);
  await outbox.addMany(manager, [outboxItem(d.facts, d.event, d.receivedAt, d.correlationId, d.text)]);
  const [id, topic, key, payload, headers] = values as [
    string,
    string,
    string,
    string,
    Record<string, string>,
  ];
  return { id, topic, key, payload: JSON.parse(payload) as Record<string, unknown>, headers };
}

/** What `STORE_SQL` makes of one delivery's parameters: the stored payload and the outbox row. */
function stored(d: VerifiedDelivery, ord = 0) {
  const { rows, bytes } = storeParams([d], [ord]);
  const row = rows[0] as Record<string, number | null | string | boolean>;
  const slice = (off: unknown, len: unknown) =>
    off === null ? null : bytes.toString('utf8', off as number, (off as number) + (len as number));
  const payload = slice(row.p_off, row.p_len) as string;
  const text = `${slice(row.h_off, row.h_len) as string}${slice(row.e_off, row.e_len) ?? payload}}}`;
  const headers = {
    [Headers.correlationId]: row.correlation_id,
    [Headers.traceparent]: row.traceparent,
    [Headers.messageType]: StripeEventReceived.type,
    [Headers.messageVersion]: String(StripeEventReceived.version),
    [Headers.subject]: row.type,
  };
  return { row, payload, published: { text, json: JSON.parse(text) as Record<string, unknown> }, headers };
}

function delivery(object: Record<string, unknown>, pretty = true): VerifiedDelivery {
  const body = {
    id: 'evt_3QtestAAAA0001',
    object: 'event',
    api_version: '2026-10-28.endive',
    created: 1_800_000_000,
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: 'req_1', idempotency_key: null },
    type: `${object.object as string}.succeeded`,
  };
  const raw = Buffer.from(pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body));
  const parsed = parseStripeEvent(raw);
  if (!parsed.ok) throw new Error(parsed.reason);
  return {
    facts: parsed.facts,
    event: parsed.event,
    raw,
    text: parsed.text,
    receivedAt: new Date('2027-01-15T10:00:00.123Z'),
    secretIndex: 1,
    signatureTimestamp: 1_800_000_005,
    correlationId: 'corr-1234',
    traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01',
  };
}

describe('storeParams (the single-statement store)', () => {
  const cases: [string, VerifiedDelivery][] = [
    [
      'a charge (no client secret): the signed text is embedded',
      delivery({ id: 'ch_1', object: 'charge', payment_intent: 'pi_1', amount: 500 }),
    ],
    [
      'a PaymentIntent with its client secret',
      delivery({ id: 'pi_2', object: 'payment_intent', client_secret: 'pi_2_secret_xyz', amount: 700 }),
    ],
    ['an event without an object id, compact text', delivery({ object: 'balance', available: [] }, false)],
    [
      'a body with non-ASCII text and \\u escapes',
      delivery({ id: 'cus_1', object: 'customer', name: 'J\u00fcrgen \u0001 \ud800 \u2603' }),
    ],
  ];

  it.each(cases)('publishes the same message as OutboxService would: %s', async (_name, d) => {
    const reference = await viaOutboxService(d);
    const { row, published, headers } = stored(d);
    expect(published.json).toEqual(reference.payload);
    expect(row.envelope_id).toBe(reference.id);
    expect(row.key).toBe(reference.key);
    expect(StripeEventReceived.topic).toBe(reference.topic);
    // The traceparent is the request's own span (OutboxService would start a child of the ambient one).
    expect({ ...headers, traceparent: 'x' }).toEqual({ ...reference.headers, traceparent: 'x' });
    expect(headers.traceparent).toBe(d.traceparent);
    expect(StripeEventReceived.schema.safeParse(published.json.data).success).toBe(true);
  });

  it('stores the body byte for byte and never publishes its client secret', () => {
    const d = delivery({ id: 'pi_3', object: 'payment_intent', client_secret: 'pi_3_secret_abc' });
    const { payload, published } = stored(d);
    expect(Buffer.from(payload)).toEqual(d.raw);
    expect(payload).toContain('pi_3_secret_abc');
    expect(published.text).not.toContain('_secret_');
  });

  it('embeds the signed text itself when it carries nothing to hide', () => {
    const d = delivery({ id: 'ch_4', object: 'charge', payment_intent: 'pi_4' });
    const { row, published } = stored(d, 3);
    expect(row.e_off).toBeNull();
    expect(published.text.endsWith(`${d.text}}}`)).toBe(true);
    expect(row).toEqual(
      expect.objectContaining({
        ord: 3,
        event_id: d.facts.eventId,
        secret_index: 1,
        payment_intent_id: 'pi_4',
      }),
    );
  });

  it('stores the text without the byte-order mark the decoder drops, as before', () => {
    const d = delivery({ id: 'ch_5', object: 'charge' });
    const withBom = { ...d, raw: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), d.raw]) };
    expect(stored(withBom).payload).toBe(d.text);
  });

  it('hands PostgreSQL only well-formed strings, even for an event whose fields carry lone surrogates', () => {
    const d = delivery({ id: 'ch_\ud800x', object: 'charge', payment_intent: null });
    const odd = { ...d, facts: { ...d.facts, type: 'charge.\udc00succeeded' } };
    const { rows } = storeParams([odd], [0]);
    expect(rows[0]).toEqual(
      expect.objectContaining({ object_id: 'ch_\ufffdx', key: 'ch_\ufffdx', type: 'charge.\ufffdsucceeded' }),
    );
    expect(JSON.stringify(rows)).not.toMatch(/\\ud[89a-f]/);
  });

  it('lays out several deliveries in one buffer without overlap, in the given order', () => {
    const ds = [
      delivery({ id: 'pi_6', object: 'payment_intent', client_secret: 'pi_6_secret_q' }),
      delivery({ id: 'ch_7', object: 'charge', payment_intent: 'pi_6' }, false),
    ];
    const { rows, bytes } = storeParams(ds, [4, 9]);
    expect(rows.map((r) => r.ord)).toEqual([4, 9]);
    rows.forEach((r, i) => {
      expect(bytes.toString('utf8', r.p_off as number, (r.p_off as number) + (r.p_len as number))).toBe(
        ds[i].text,
      );
    });
  });
});
