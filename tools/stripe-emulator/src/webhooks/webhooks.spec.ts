import Stripe from 'stripe';
import { signatureHeader } from './signature';
import { startTestEnv, stripeError, TestEnv, WebhookReceiver } from '../test-utils';

let env: TestEnv;
let hook: WebhookReceiver;
beforeAll(async () => {
  env = await startTestEnv();
  hook = await new WebhookReceiver().start();
});
afterAll(async () => {
  await env.emu.close();
  await hook.close();
});
beforeEach(() => {
  env.emu.reset();
  hook.received.length = 0;
  hook.respond = () => 200;
});

const customer = () => env.stripe.customers.create({ email: 'w@example.com' });

describe('webhook delivery', () => {
  it('signs like Stripe: constructEvent accepts the header, a wrong secret is rejected', () => {
    const payload = JSON.stringify({ id: 'evt_1', object: 'event' });
    const header = signatureHeader(payload, ['whsec_a', 'whsec_b']);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$/);
    const stripe = new Stripe('sk_test_x');
    expect(stripe.webhooks.constructEvent(payload, header, 'whsec_b').id).toBe('evt_1');
    expect(() => stripe.webhooks.constructEvent(payload, header, 'whsec_c')).toThrow(Stripe.errors.StripeSignatureVerificationError);
  });

  it('several endpoints each get events signed with their own secret, filtered by enabled_events', async () => {
    const other = await new WebhookReceiver().start();
    try {
      const a = await env.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] });
      const b = await env.stripe.webhookEndpoints.create({ url: other.url, enabled_events: ['payment_intent.created'] });
      expect(a.secret).toMatch(/^whsec_/);
      expect(a.secret).not.toBe(b.secret);
      expect((await env.stripe.webhookEndpoints.retrieve(a.id)).secret).toBeUndefined();
      const cus = await customer();
      await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: cus.id });
      await env.emu.webhooksIdle();
      expect(hook.types().sort()).toEqual(['customer.created', 'payment_intent.created']);
      expect(other.types()).toEqual(['payment_intent.created']);
      for (const r of hook.received) env.stripe.webhooks.constructEvent(r.body, r.signature, a.secret!);
      env.stripe.webhooks.constructEvent(other.received[0]!.body, other.received[0]!.signature, b.secret!);
      expect(() => env.stripe.webhooks.constructEvent(other.received[0]!.body, other.received[0]!.signature, a.secret!)).toThrow();
      const evt = hook.events().find((e) => e.type === 'customer.created')!;
      const stored = await env.stripe.events.retrieve(evt.id);
      expect(stored.pending_webhooks).toBe(0);
      expect((stored.data.object as Stripe.Customer).id).toBe(cus.id);
    } finally {
      await other.close();
    }
  });

  it('is asynchronous: the API answers before the endpoint does', async () => {
    const slow = await new WebhookReceiver().start();
    slow.respond = () => 'hang';
    try {
      await env.stripe.webhookEndpoints.create({ url: slow.url, enabled_events: ['customer.created'] });
      const t0 = Date.now();
      await customer();
      expect(Date.now() - t0).toBeLessThan(500);
    } finally {
      await slow.close();
    }
  });

  it('retries with exponential backoff after endpoint failures, then succeeds', async () => {
    hook.respond = (n) => (n < 3 ? 500 : 200);
    await env.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['customer.created'] });
    await customer();
    await env.emu.webhooksIdle();
    expect(hook.received).toHaveLength(4);
    const gaps = hook.received.slice(1).map((r, i) => r.at - hook.received[i]!.at);
    // Retries wait 20, 40, 80 ms (initialDelayMs 20, doubling). Timers never fire early, so each gap is at least its
    // delay (less a millisecond of clock rounding); a loaded machine only makes gaps longer, never a failure.
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual(20 * 2 ** i - 1));
    const d = env.emu.deliveries()[0]!;
    expect(d.status).toBe('succeeded');
    expect(d.attempts.map((a) => a.status)).toEqual([500, 500, 500, 200]);
    const ev = await env.stripe.events.list({ type: 'customer.created', delivery_success: true });
    expect(ev.data).toHaveLength(1);
  });

  it('gives up after the bounded retry time and lists the delivery as failed', async () => {
    env.emu.emulator.webhooks.retry = { ...env.emu.emulator.webhooks.retry, maxDurationMs: 150 };
    try {
      hook.respond = () => 503;
      await env.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['customer.created'] });
      await customer();
      await env.emu.webhooksIdle();
      const res = await env.admin('GET', '/_emulator/deliveries?status=failed');
      expect(res.body.data).toHaveLength(1);
      expect(res.body.data[0].attempts.length).toBeGreaterThanOrEqual(3);
      const pending = await env.stripe.events.list({ delivery_success: false });
      expect(pending.data[0]!.pending_webhooks).toBe(1);
    } finally {
      env.emu.emulator.webhooks.retry = { ...env.emu.emulator.webhooks.retry, maxDurationMs: 3000 };
    }
  });

  it('endpoint timeouts count as failures', async () => {
    env.emu.emulator.webhooks.retry = { ...env.emu.emulator.webhooks.retry, attemptTimeoutMs: 100 };
    try {
      hook.respond = (n) => (n === 0 ? 'hang' : 200);
      await env.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['customer.created'] });
      await customer();
      await env.emu.webhooksIdle();
      const d = env.emu.deliveries()[0]!;
      expect(d.attempts[0]!.error).toContain('timed out');
      expect(d.status).toBe('succeeded');
    } finally {
      env.emu.emulator.webhooks.retry = { ...env.emu.emulator.webhooks.retry, attemptTimeoutMs: 1000 };
    }
  });
});

describe('fault switches', () => {
  it('duplicate: each event arrives N times with the same id', async () => {
    const ep = await env.admin('POST', '/_emulator/webhook_endpoints', { url: hook.url, secret: 'whsec_fixed', enabled_events: ['customer.created'] });
    expect(ep.body.secret).toBe('whsec_fixed');
    const f = await env.admin('POST', '/_emulator/faults/webhooks', { endpoint: ep.body.id, duplicate: 3 });
    expect(f.status).toBe(200);
    await customer();
    await env.emu.webhooksIdle();
    const ids = hook.events().map((e) => e.id);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    for (const r of hook.received) env.stripe.webhooks.constructEvent(r.body, r.signature, 'whsec_fixed');
  });

  it('shuffle: deliveries within the window arrive out of creation order', async () => {
    await env.admin('POST', '/_emulator/webhook_endpoints', { url: hook.url, enabled_events: ['customer.created'] });
    await env.admin('POST', '/_emulator/faults/webhooks', { shuffle_window_ms: 200 });
    const created: string[] = [];
    for (let i = 0; i < 20; i++) created.push((await customer()).id);
    await env.emu.webhooksIdle();
    const got = hook.events().map((e) => (e.data.object as Stripe.Customer).id);
    expect([...got].sort()).toEqual([...created].sort());
    expect(got).not.toEqual(created);
  });

  it('delay: deliveries wait at least delay_ms', async () => {
    await env.admin('POST', '/_emulator/webhook_endpoints', { url: hook.url, enabled_events: ['customer.created'] });
    await env.admin('POST', '/_emulator/faults/webhooks', { delay_ms: 200 });
    const t0 = Date.now();
    await customer();
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.received).toHaveLength(0);
    await env.emu.webhooksIdle();
    expect(hook.received[0]!.at - t0).toBeGreaterThanOrEqual(190);
  });

  it('release: deliveries a delay holds are sent at once when released', async () => {
    await env.admin('POST', '/_emulator/webhook_endpoints', { url: hook.url, enabled_events: ['customer.created'] });
    const held = await env.admin('POST', '/_emulator/faults/webhooks', { delay_ms: 3_600_000 });
    await customer();
    await customer();
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.received).toHaveLength(0);
    await env.admin('DELETE', `/_emulator/faults/${held.body.id}`);
    const released = await env.admin('POST', '/_emulator/deliveries/release');
    expect(released.body).toEqual({ released: 2 });
    await env.emu.webhooksIdle();
    expect(hook.received).toHaveLength(2);
  });

  it('drop_first_attempt: the first attempt is lost, the retry delivers', async () => {
    await env.admin('POST', '/_emulator/webhook_endpoints', { url: hook.url, enabled_events: ['customer.created'] });
    await env.admin('POST', '/_emulator/faults/webhooks', { drop_first_attempt: true });
    await customer();
    await env.emu.webhooksIdle();
    expect(hook.received).toHaveLength(1);
    const d = env.emu.deliveries()[0]!;
    expect(d.attempts.map((a) => a.error ?? a.status)).toEqual(['dropped by fault switch', 200]);
  });

  it('API 500 and 429 for a matching path, limited by times', async () => {
    const f500 = await env.admin('POST', '/_emulator/faults/api', { path: '/v1/payment_intents', status: 500, times: 1 });
    expect(f500.body.id).toMatch(/^flt_/);
    const e500 = await stripeError(env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }));
    expect(e500.statusCode).toBe(500);
    expect(e500.type).toBe('StripeAPIError');
    expect((await env.stripe.paymentIntents.list()).data).toHaveLength(0);
    await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }); // rule used up
    await env.admin('POST', '/_emulator/faults/api', { path: '^/v1/customers$', method: 'GET', status: 429 });
    const e429 = await stripeError(env.stripe.customers.list());
    expect(e429.statusCode).toBe(429);
    expect(e429.type).toBe('StripeRateLimitError');
    await customer(); // POST not matched
    const faults = await env.admin('GET', '/_emulator/faults');
    expect(faults.body.api).toHaveLength(2);
    await env.admin('DELETE', '/_emulator/faults');
    expect((await env.stripe.customers.list()).data).toHaveLength(1);
  });

  it('an injected refusal is kept under its idempotency key, as Stripe keeps refusals; a 500 is not', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    await env.admin('POST', '/_emulator/faults/api', { path: `/v1/payment_intents/${pi.id}/cancel`, status: 400, code: 'payment_intent_unexpected_state', times: 1 });
    const first = await stripeError(env.stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: 'cancel-1' }));
    expect(first.code).toBe('payment_intent_unexpected_state');
    const again = await stripeError(env.stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: 'cancel-1' }));
    expect(again.code).toBe('payment_intent_unexpected_state'); // the rule is used up: this is the stored answer
    expect((await env.stripe.paymentIntents.cancel(pi.id, {}, { idempotencyKey: 'cancel-2' })).status).toBe('canceled');

    await env.admin('POST', '/_emulator/faults/api', { path: '^/v1/customers$', method: 'POST', status: 500, times: 1 });
    expect((await stripeError(env.stripe.customers.create({}, { idempotencyKey: 'cus-1' }))).statusCode).toBe(500);
    expect((await env.stripe.customers.create({}, { idempotencyKey: 'cus-1' })).id).toMatch(/^cus_/);
  });

  it('API delay slows matching calls', async () => {
    env.emu.addApiFault({ path: '/v1/customers', delay_ms: 150 });
    const t0 = Date.now();
    await env.stripe.customers.list();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('ambiguous: the write is committed, the caller gets 500, a retry with the same key gets the real result', async () => {
    await env.admin('POST', '/_emulator/faults/api', { path: '/v1/payment_intents', method: 'POST', ambiguous: true, times: 1 });
    const err = await stripeError(env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: 'amb-1' }));
    expect(err.statusCode).toBe(500);
    const list = await env.stripe.paymentIntents.list();
    expect(list.data).toHaveLength(1);
    const retry = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' }, { idempotencyKey: 'amb-1' });
    expect(retry.id).toBe(list.data[0]!.id);
    expect(retry.lastResponse.headers['idempotent-replayed']).toBe('true');
  });

  it('the SDK retries an injected 500 with the same idempotency key and succeeds once', async () => {
    const retrying = new Stripe(env.emu.secretKey, { ...env.emu.stripeConfig, maxNetworkRetries: 2 });
    env.emu.addApiFault({ path: '/v1/payment_intents', method: 'POST', ambiguous: true, times: 1 });
    const pi = await retrying.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect((await env.stripe.paymentIntents.list()).data.map((p) => p.id)).toEqual([pi.id]);
  });

  it('bad admin input is a 400', async () => {
    expect((await env.admin('POST', '/_emulator/faults/api', { status: 418 })).status).toBe(400);
    expect((await env.admin('POST', '/_emulator/faults/webhooks', { duplicates: 2 })).status).toBe(400);
    expect((await env.admin('POST', '/_emulator/nope')).status).toBe(404);
  });
});

describe('reset', () => {
  it('clears objects, events, faults and idempotency keys without a restart; preconfigured endpoints survive', async () => {
    const own = await (await import('../test-utils')).startTestEnv({ webhooks: [{ url: hook.url, secret: 'whsec_pre' }] });
    try {
      await own.stripe.customers.create({ email: 'r@example.com' }, { idempotencyKey: 'same' });
      own.emu.addApiFault({ path: '/v1/balance', status: 500 });
      await own.emu.webhooksIdle();
      expect(hook.received.length).toBe(1);
      env.stripe.webhooks.constructEvent(hook.received[0]!.body, hook.received[0]!.signature, 'whsec_pre');
      const res = await own.admin('POST', '/_emulator/reset');
      expect(res.body).toEqual({ reset: true });
      expect((await own.stripe.customers.list()).data).toHaveLength(0);
      expect((await own.stripe.events.list()).data).toHaveLength(0);
      expect((await own.admin('GET', '/_emulator/faults')).body.api).toHaveLength(0);
      const again = await own.stripe.customers.create({ email: 'other@example.com' }, { idempotencyKey: 'same' });
      expect(again.email).toBe('other@example.com');
      const eps = await own.stripe.webhookEndpoints.list();
      expect(eps.data.map((e) => e.url)).toEqual([hook.url]);
      await own.emu.webhooksIdle();
      env.stripe.webhooks.constructEvent(hook.received[1]!.body, hook.received[1]!.signature, 'whsec_pre');
    } finally {
      await own.emu.close();
    }
  });
});

