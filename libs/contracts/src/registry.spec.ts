import { randomUUID } from 'node:crypto';
import { allMessages, parseMessage } from './registry';
import { PaymentSucceeded } from './messages/payments-events';

const envelope = (over: Record<string, unknown> = {}) => ({
  id: randomUUID(),
  type: 'payment.succeeded',
  version: 1,
  occurredAt: new Date().toISOString(),
  source: 'payments',
  correlationId: 'c-1',
  causationId: null,
  data: {
    paymentId: 'pay_1',
    orderId: 'ord_1',
    paymentIntentId: 'pi_1',
    channel: 'web',
    storeId: null,
    customerId: 'cus_1',
    amount: 1250,
    amountReceived: 1250,
    currency: 'usd',
    chargeId: 'ch_1',
  },
  ...over,
});

describe('message contracts', () => {
  it('accepts a valid envelope and types its data', () => {
    const r = parseMessage(JSON.stringify(envelope()));
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.definition).toBe(PaymentSucceeded);
  });

  it('tolerates unknown fields in the envelope and in data (a newer producer)', () => {
    const e = envelope({ newField: 1 });
    (e.data as Record<string, unknown>).futureField = 'x';
    const r = parseMessage(JSON.stringify(e));
    expect(r.ok).toBe(true);
  });

  it('rejects a float amount: money is integer minor units', () => {
    const e = envelope();
    (e.data as Record<string, unknown>).amount = 12.5;
    const r = parseMessage(JSON.stringify(e));
    expect(r).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('accepts ISO timestamps with Z or an offset and rejects anything else as occurredAt', () => {
    for (const occurredAt of ['2026-11-23T18:00:00.123Z', '2026-11-23T18:00:00+02:00', '2024-02-29T00:00:00Z'])
      expect(parseMessage(JSON.stringify(envelope({ occurredAt })))).toMatchObject({ ok: true });
    for (const occurredAt of ['2026-11-23', '2026-11-23 18:00:00Z', '2026-02-30T00:00:00Z', '2026-11-23T18:00:00', 1732384800])
      expect(parseMessage(JSON.stringify(envelope({ occurredAt })))).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('reports a type it does not know separately from a malformed message', () => {
    expect(parseMessage(JSON.stringify(envelope({ type: 'payment.teleported' })))).toMatchObject({ ok: false, reason: 'unknown_type' });
    expect(parseMessage('not json')).toMatchObject({ ok: false, reason: 'malformed' });
    expect(parseMessage(null)).toMatchObject({ ok: false, reason: 'malformed' });
  });

  it('has exactly one schema per type and version', () => {
    const keys = allMessages.map((m) => `${m.type}@${m.version}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.length).toBeGreaterThanOrEqual(15);
  });
});
