import Stripe from 'stripe';
import { parseForm } from './form';
import { startTestEnv, stripeError, TestEnv } from '../test-utils';

describe('form parser', () => {
  it('parses bracket notation, indexed arrays and []-arrays', () => {
    const v = parseForm('a=1&metadata[k]=v&expand[0]=x&expand[1]=y&items[][price]=p1&items[][qty]=2&items[][price]=p2&e%5B%5D=z&s=a+b%26c');
    expect(v).toEqual({ a: '1', metadata: { k: 'v' }, expand: { 0: 'x', 1: 'y' }, items: { 0: { price: 'p1', qty: '2' }, 1: { price: 'p2' } }, e: { 0: 'z' }, s: 'a b&c' });
  });
  it('rejects prototype pollution keys', () => {
    expect(() => parseForm('__proto__[x]=1')).toThrow();
  });
});

describe('wire protocol', () => {
  let env: TestEnv;
  beforeAll(async () => {
    env = await startTestEnv();
  });
  afterAll(() => env.emu.close());
  beforeEach(() => env.emu.reset());

  const raw = (path: string, init: RequestInit = {}) =>
    fetch(`${env.emu.url}${path}`, { ...init, headers: { Authorization: `Bearer ${env.emu.secretKey}`, 'Content-Type': 'application/x-www-form-urlencoded', ...(init.headers ?? {}) } });

  it('lets the restricted events-read key list and get events, and nothing else', async () => {
    await env.stripe.customers.create({ email: 'x@example.com' }); // one event: customer.created
    const asReader = (path: string, init: RequestInit = {}) =>
      fetch(`${env.emu.url}${path}`, { ...init, headers: { Authorization: `Bearer ${env.emu.eventsReadKey}`, ...(init.headers ?? {}) } });
    const list = await asReader('/v1/events?limit=10');
    expect(list.status).toBe(200);
    const events = ((await list.json()) as { data: { id: string; type: string }[] }).data;
    expect(events.map((e) => e.type)).toContain('customer.created');
    expect((await asReader(`/v1/events/${events[0].id}`)).status).toBe(200);
    for (const [path, init] of [
      ['/v1/customers', {}],
      ['/v1/payment_intents', { method: 'POST', body: 'amount=100&currency=usd', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } }],
    ] as const) {
      const res = await asReader(path, init);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { message: string } }).error.message).toContain('rak_event_read');
    }
  });

  it('answers with Request-Id and echoes Stripe-Version', async () => {
    const res = await env.stripe.customers.create({ email: 'x@example.com' }).then((c) => c.lastResponse);
    expect(res.requestId).toMatch(/^req_/);
    expect(res.apiVersion).toBe('2026-10-28.endive');
    expect(res.statusCode).toBe(200);
  });

  it('unknown parameters are a 400 parameter_unknown naming the param, also nested ones', async () => {
    const err = await stripeError(env.stripe.customers.create({ emali: 'x' } as Stripe.CustomerCreateParams));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('parameter_unknown');
    expect(err.param).toBe('emali');
    expect(err.message).toBe('Received unknown parameter: emali');
    const nested = await stripeError(
      env.stripe.terminal.locations.create({ display_name: 'x', address: { country: 'US', planet: 'mars' } } as unknown as Stripe.Terminal.LocationCreateParams),
    );
    expect(nested.param).toBe('address[planet]');
  });

  it('wrong types are a 400 with the param (integer, boolean, enum)', async () => {
    const int = await stripeError(env.stripe.paymentIntents.create({ amount: 'ten' as unknown as number, currency: 'usd' }));
    expect(int.code).toBe('parameter_invalid_integer');
    expect(int.param).toBe('amount');
    const bool = await stripeError(env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', confirm: 'yes' as unknown as boolean }));
    expect(bool.param).toBe('confirm');
    const en = await stripeError(env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', capture_method: 'later' as 'manual' }));
    expect(en.param).toBe('capture_method');
    expect(en.statusCode).toBe(400);
  });

  it('missing required params are a 400 parameter_missing', async () => {
    const err = await stripeError(env.stripe.paymentIntents.create({ currency: 'usd' } as Stripe.PaymentIntentCreateParams));
    expect(err.code).toBe('parameter_missing');
    expect(err.param).toBe('amount');
    expect(err.message).toBe('Missing required param: amount.');
  });

  it('unknown ids are 404 resource_missing; unknown URLs are 404', async () => {
    const err = await stripeError(env.stripe.paymentIntents.retrieve('pi_doesnotexist'));
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('resource_missing');
    expect(err.message).toBe("No such payment_intent: 'pi_doesnotexist'");
    const res = await raw('/v1/nothing_here');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('Unrecognized request URL');
  });

  it('never answers 500 on malformed input', async () => {
    for (const body of ['amount[=1', 'amount=1&amount[x]=2', '%%%', 'metadata=abc&amount=100&currency=usd', 'expand=x']) {
      const res = await raw('/v1/payment_intents', { method: 'POST', body });
      expect(res.status).toBe(400);
    }
  });

  describe('idempotency', () => {
    it('same key and params replays the stored response with Idempotent-Replayed', async () => {
      const a = await env.stripe.customers.create({ email: 'idem@example.com' }, { idempotencyKey: 'k-1' });
      const b = await env.stripe.customers.create({ email: 'idem@example.com' }, { idempotencyKey: 'k-1' });
      expect(b.id).toBe(a.id);
      expect(b.lastResponse.headers['idempotent-replayed']).toBe('true');
      expect(a.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      expect((await env.stripe.customers.list()).data).toHaveLength(1);
    });

    it('declines are stored and replayed too (the confirm is not re-run)', async () => {
      const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
      const e1 = await stripeError(env.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: 'decl' }));
      const e2 = await stripeError(env.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: 'decl' }));
      expect(e2.statusCode).toBe(402);
      expect(e2.headers?.['idempotent-replayed']).toBe('true');
      expect(e2.payment_intent?.latest_charge).toBe(e1.payment_intent?.latest_charge);
      expect((await env.stripe.charges.list({ payment_intent: pi.id })).data).toHaveLength(1);
    });

    it('forgets finished keys when told to, as Stripe does after 24 h, so the same key then runs the request again', async () => {
      const a = await env.stripe.customers.create({ email: 'day@example.com' }, { idempotencyKey: 'k-day' });
      const expired = await env.admin('POST', '/_emulator/idempotency_keys/expire');
      expect(expired.status).toBe(200);
      expect(expired.body.expired).toBeGreaterThanOrEqual(1);
      const b = await env.stripe.customers.create({ email: 'day@example.com' }, { idempotencyKey: 'k-day' });
      expect(b.id).not.toBe(a.id);
      expect(b.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    });

    it('same key with different params is a 400 idempotency_error', async () => {
      await env.stripe.customers.create({ email: 'one@example.com' }, { idempotencyKey: 'k-2' });
      const err = await stripeError(env.stripe.customers.create({ email: 'two@example.com' }, { idempotencyKey: 'k-2' }));
      expect(err.statusCode).toBe(400);
      expect(err.type).toBe('StripeIdempotencyError');
    });

    it('keys are scoped per API key and validation errors are not stored', async () => {
      const bad = await stripeError(env.stripe.customers.create({ nope: 1 } as Stripe.CustomerCreateParams, { idempotencyKey: 'k-3' }));
      expect(bad.code).toBe('parameter_unknown');
      const good = await env.stripe.customers.create({ email: 'z@example.com' }, { idempotencyKey: 'k-3' });
      expect(good.id).toMatch(/^cus_/);
    });

    it('a concurrent request with the same key is a 409 idempotency_key_in_use', async () => {
      env.emu.addApiFault({ path: '/v1/customers', method: 'POST', delay_ms: 300, times: 1 });
      const first = env.stripe.customers.create({ email: 'c@example.com' }, { idempotencyKey: 'k-4' });
      await new Promise((r) => setTimeout(r, 50));
      // the second request does not hit the (exhausted) delay rule and finds the key in flight
      const err = await stripeError(env.stripe.customers.create({ email: 'c@example.com' }, { idempotencyKey: 'k-4' }));
      expect(err.statusCode).toBe(409);
      expect(err.code).toBe('idempotency_key_in_use');
      const c = await first;
      const replay = await env.stripe.customers.create({ email: 'c@example.com' }, { idempotencyKey: 'k-4' });
      expect(replay.id).toBe(c.id);
    });
  });

  describe('lists and expand', () => {
    it('pages newest first with limit, starting_after, ending_before and has_more', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await env.stripe.customers.create({ email: `p${i}@example.com` })).id);
      const newestFirst = [...ids].reverse();
      const p1 = await env.stripe.customers.list({ limit: 3 });
      expect(p1.object).toBe('list');
      expect(p1.url).toBe('/v1/customers');
      expect(p1.data.map((c) => c.id)).toEqual(newestFirst.slice(0, 3));
      expect(p1.has_more).toBe(true);
      const p2 = await env.stripe.customers.list({ limit: 3, starting_after: p1.data[2]!.id });
      expect(p2.data.map((c) => c.id)).toEqual(newestFirst.slice(3, 6));
      const p3 = await env.stripe.customers.list({ limit: 3, starting_after: p2.data[2]!.id });
      expect(p3.data.map((c) => c.id)).toEqual(newestFirst.slice(6));
      expect(p3.has_more).toBe(false);
      const back = await env.stripe.customers.list({ limit: 2, ending_before: p2.data[0]!.id });
      expect(back.data.map((c) => c.id)).toEqual(newestFirst.slice(1, 3));
      expect(back.has_more).toBe(true);
      const all: string[] = [];
      for await (const c of env.stripe.customers.list({ limit: 2 })) all.push(c.id);
      expect(all).toEqual(newestFirst);
      const filtered = await env.stripe.customers.list({ email: 'p3@example.com' });
      expect(filtered.data.map((c) => c.id)).toEqual([ids[3]]);
      const tooBig = await stripeError(env.stripe.customers.list({ limit: 101 }));
      expect(tooBig.param).toBe('limit');
    });

    it('expands nested ids (expand[]=latest_charge.balance_transaction, data.customer on lists) and refuses bad paths', async () => {
      const cus = await env.stripe.customers.create({ email: 'e@example.com' });
      const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: cus.id, payment_method: 'pm_card_visa', confirm: true, capture_method: 'automatic' });
      const got = await env.stripe.paymentIntents.retrieve(pi.id, { expand: ['customer', 'latest_charge.balance_transaction', 'payment_method'] });
      expect((got.customer as Stripe.Customer).email).toBe('e@example.com');
      expect(((got.latest_charge as Stripe.Charge).balance_transaction as Stripe.BalanceTransaction).object).toBe('balance_transaction');
      expect((got.payment_method as Stripe.PaymentMethod).card?.last4).toBe('4242');
      const list = await env.stripe.paymentIntents.list({ expand: ['data.customer'] });
      expect((list.data[0]!.customer as Stripe.Customer).id).toBe(cus.id);
      // the store is not changed by expansion
      expect((await env.stripe.paymentIntents.retrieve(pi.id)).customer).toBe(cus.id);
      const res = await raw(`/v1/payment_intents/${pi.id}?expand[]=customer`, { method: 'GET' });
      expect(((await res.json()) as { customer: { id: string } }).customer.id).toBe(cus.id);
      const bad = await stripeError(env.stripe.paymentIntents.retrieve(pi.id, { expand: ['amount'] }));
      expect(bad.statusCode).toBe(400);
      expect(bad.param).toBe('expand');
    });
  });
});
