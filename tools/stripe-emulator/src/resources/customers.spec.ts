import Stripe from 'stripe';
import { startTestEnv, stripeError, TestEnv } from '../test-utils';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv();
});
afterAll(() => env.emu.close());
beforeEach(() => env.emu.reset());

describe('customers, payment methods, setup intents, mobile keys', () => {
  it('customers: create, update metadata, retrieve, delete', async () => {
    const c = await env.stripe.customers.create({ email: 'a@example.com', name: 'A', metadata: { app_user: 'u1' } });
    expect(c.id).toMatch(/^cus_/);
    expect(c.object).toBe('customer');
    expect(c.livemode).toBe(false);
    const u = await env.stripe.customers.update(c.id, { metadata: { tier: 'gold' } });
    expect(u.metadata).toEqual({ app_user: 'u1', tier: 'gold' });
    expect((await env.stripe.customers.del(c.id)).deleted).toBe(true);
    expect((await stripeError(env.stripe.customers.retrieve(c.id))).statusCode).toBe(404);
  });

  it('payment methods attach, list by customer and detach; declining cards fail to attach', async () => {
    const c = await env.stripe.customers.create({});
    const pm = await env.stripe.paymentMethods.attach('pm_card_mastercard', { customer: c.id });
    expect(pm.customer).toBe(c.id);
    expect(pm.card?.brand).toBe('mastercard');
    const listed = await env.stripe.paymentMethods.list({ customer: c.id, type: 'card' });
    expect(listed.data.map((p) => p.id)).toEqual([pm.id]);
    const detached = await env.stripe.paymentMethods.detach(pm.id);
    expect(detached.customer).toBeNull();
    expect((await env.stripe.customers.listPaymentMethods(c.id)).data).toHaveLength(0);
    const err = await stripeError(env.stripe.paymentMethods.attach('pm_card_visa_chargeDeclined', { customer: c.id }));
    expect(err.statusCode).toBe(402);
    expect(err.code).toBe('card_declined');
    const missing = await stripeError(env.stripe.paymentMethods.attach('pm_card_visa', { customer: 'cus_nope' }));
    expect(missing.statusCode).toBe(404);
    expect(missing.param).toBe('customer');
  });

  it('setup intents save a card to the customer and then allow off-session payments with a 3DS-on-setup card', async () => {
    const c = await env.stripe.customers.create({});
    const si = await env.stripe.setupIntents.create({ customer: c.id, usage: 'off_session' });
    expect(si.status).toBe('requires_payment_method');
    expect(si.client_secret).toMatch(/^seti_.+_secret_/);
    const needs3ds = await env.browser.setupIntents.confirm(si.id, { client_secret: si.client_secret!, payment_method: 'pm_card_threeDSecure2Required' } as Stripe.SetupIntentConfirmParams);
    expect(needs3ds.status).toBe('requires_action');
    env.emu.completeThreeDS(si.id, true);
    const done = await env.stripe.setupIntents.retrieve(si.id);
    expect(done.status).toBe('succeeded');
    const pms = await env.stripe.customers.listPaymentMethods(c.id);
    expect(pms.data.map((p) => p.id)).toEqual([done.payment_method]);
    const pi = await env.stripe.paymentIntents.create({ amount: 1500, currency: 'usd', customer: c.id, payment_method: done.payment_method as string, off_session: true, confirm: true });
    expect(pi.status).toBe('succeeded');
    const types = (await env.stripe.events.list({ type: 'setup_intent.*' })).data.map((e) => e.type);
    expect(types).toEqual(['setup_intent.succeeded', 'setup_intent.requires_action', 'setup_intent.created']);
  });

  it('a declined card fails the setup intent with a 402 carrying the setup intent', async () => {
    const c = await env.stripe.customers.create({});
    const err = await stripeError(env.stripe.setupIntents.create({ customer: c.id, payment_method: 'pm_card_chargeDeclined', confirm: true }));
    expect(err.statusCode).toBe(402);
    expect(err.setup_intent?.status).toBe('requires_payment_method');
  });

  it('ephemeral keys need an explicit Stripe-Version; customer sessions return a client secret', async () => {
    const c = await env.stripe.customers.create({});
    await expect(env.stripe.ephemeralKeys.create({ customer: c.id })).rejects.toThrow(/apiVersion/);
    const key = await env.stripe.ephemeralKeys.create({ customer: c.id }, { apiVersion: '2020-08-27' });
    expect(key.secret).toMatch(/^ek_test_/);
    expect(key.expires - key.created).toBe(3600);
    expect(key.lastResponse.apiVersion).toBe('2020-08-27');
    const res = await fetch(`${env.emu.url}/v1/ephemeral_keys`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${env.emu.secretKey}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `customer=${c.id}`,
    });
    expect(res.status).toBe(400);
    const session = await env.stripe.customerSessions.create({ customer: c.id, components: { mobile_payment_element: { enabled: true } } });
    expect(session.client_secret).toMatch(/^cuss_secret_/);
    expect(session.components?.mobile_payment_element?.enabled).toBe(true);
  });

  it('balance reflects pending net amounts', async () => {
    await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'automatic' });
    const bal = await env.stripe.balance.retrieve();
    expect(bal.pending).toEqual([expect.objectContaining({ currency: 'usd', amount: 941 })]);
    const txns = await env.stripe.balanceTransactions.list({ type: 'charge' });
    expect(txns.data).toHaveLength(1);
  });
});
