import { StripeEventReceived } from '@omnipay/contracts';
import {
  envelopeIdFor,
  eventFacts,
  messageData,
  parseStripeEvent,
  uuidV5,
  withoutClientSecrets,
} from './stripe-event';

const event = (object: Record<string, unknown>, type = 'x.y', id = 'evt_1') => ({
  id,
  object: 'event',
  api_version: '2026-10-28.endive',
  created: 1_800_000_000,
  livemode: false,
  type,
  data: { object },
});

describe('envelope ids', () => {
  it('are the same for every delivery of an event and differ between events', () => {
    expect(envelopeIdFor('evt_123')).toBe(envelopeIdFor('evt_123'));
    expect(envelopeIdFor('evt_123')).not.toBe(envelopeIdFor('evt_124'));
    expect(envelopeIdFor('evt_123')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it('follow RFC 4122 version 5 (known vector: "www.example.com" in the DNS namespace)', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });
});

describe('partition key selection', () => {
  const keyOf = (e: unknown) => {
    const facts = eventFacts(e)!;
    return StripeEventReceived.key(messageData(facts, e as Record<string, unknown>, new Date()));
  };

  it('uses the PaymentIntent itself for payment_intent events', () => {
    expect(keyOf(event({ id: 'pi_A', object: 'payment_intent' }, 'payment_intent.succeeded'))).toBe('pi_A');
  });

  it('uses the payment_intent of a charge, refund or dispute (id or expanded)', () => {
    expect(keyOf(event({ id: 'ch_1', object: 'charge', payment_intent: 'pi_B' }, 'charge.succeeded'))).toBe(
      'pi_B',
    );
    expect(keyOf(event({ id: 're_1', object: 'refund', payment_intent: 'pi_C' }, 'refund.created'))).toBe(
      'pi_C',
    );
    expect(
      keyOf(
        event(
          { id: 'dp_1', object: 'dispute', payment_intent: { id: 'pi_D', object: 'payment_intent' } },
          'charge.dispute.created',
        ),
      ),
    ).toBe('pi_D');
  });

  it('falls back to the object id, and to the event id for objects without one', () => {
    expect(keyOf(event({ id: 'tmr_1', object: 'terminal.reader' }, 'terminal.reader.action_succeeded'))).toBe(
      'tmr_1',
    );
    expect(keyOf(event({ id: 'ch_2', object: 'charge', payment_intent: null }, 'charge.succeeded'))).toBe(
      'ch_2',
    );
    expect(keyOf(event({ object: 'balance' }, 'balance.available', 'evt_bal'))).toBe('evt_bal');
  });
});

describe('parseStripeEvent', () => {
  it('keeps the exact text and extracts the facts', () => {
    const text = JSON.stringify(
      event({ id: 'pi_A', object: 'payment_intent' }, 'payment_intent.created'),
      null,
      2,
    );
    const r = parseStripeEvent(Buffer.from(text));
    expect(r).toMatchObject({
      ok: true,
      text,
      facts: { eventId: 'evt_1', type: 'payment_intent.created', paymentIntentId: 'pi_A', livemode: false },
    });
  });

  it.each([
    ['not JSON', Buffer.from('id=evt_1&type=x'), 'body_not_json'],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'body_not_utf8'],
    ['a JSON array', Buffer.from('[]'), 'not_a_stripe_event'],
    [
      'an event without data.object',
      Buffer.from(JSON.stringify({ ...event({}), data: {} })),
      'not_a_stripe_event',
    ],
    ['a bad event id', Buffer.from(JSON.stringify(event({ id: 'x' }, 'x.y', 'ev_1'))), 'not_a_stripe_event'],
    [
      'another Stripe object',
      Buffer.from(JSON.stringify({ ...event({}), object: 'charge' })),
      'not_a_stripe_event',
    ],
  ])('refuses %s', (_n, raw, reason) => {
    expect(parseStripeEvent(raw)).toEqual({ ok: false, reason });
  });
});

describe('withoutClientSecrets', () => {
  it('blanks client secrets at any depth and leaves the original untouched', () => {
    const e = event({
      id: 'pi_A',
      object: 'payment_intent',
      client_secret: 'pi_A_secret_xyz',
      latest_charge: { client_secret: 'x' },
    });
    const copy = withoutClientSecrets(e);
    expect(JSON.stringify(copy)).not.toContain('_secret_');
    expect(JSON.stringify(copy)).not.toContain('"x"');
    expect((e.data.object as { client_secret: string }).client_secret).toBe('pi_A_secret_xyz');
  });
});

describe('messageData', () => {
  it('publishes the event without its client secret whether or not the raw text is given', () => {
    const e = event({ id: 'pi_A', object: 'payment_intent', client_secret: 'pi_A_secret_xyz' });
    const facts = eventFacts(e)!;
    for (const text of [undefined, JSON.stringify(e, null, 2)]) {
      expect(JSON.stringify(messageData(facts, e, new Date(), text))).not.toContain('_secret_');
    }
  });
});
