import Stripe from 'stripe';
import { startTestEnv, stripeError, TestEnv, waitFor, WebhookReceiver } from '../test-utils';

let env: TestEnv;
let hook: WebhookReceiver;
let secret: string;

beforeAll(async () => {
  env = await startTestEnv();
  hook = await new WebhookReceiver().start();
});
afterAll(async () => {
  await env.emu.close();
  await hook.close();
});
beforeEach(async () => {
  env.emu.reset();
  hook.received.length = 0;
  const ep = await env.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['*'] });
  secret = ep.secret!;
});

const typesFor = (id: string) =>
  hook
    .events()
    .filter((e) => (e.data.object as { id: string }).id === id || (e.data.object as { payment_intent?: string }).payment_intent === id)
    .map((e) => e.type);

describe('card payments', () => {
  it('a visa payment succeeds with a charge, a 2.9% + 30 fee balance transaction and signed events', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 2000, currency: 'usd', capture_method: 'automatic', metadata: { order: 'o1' } });
    expect(pi.status).toBe('requires_payment_method');
    expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_`));
    expect(pi.automatic_payment_methods).toEqual({ enabled: true, allow_redirects: 'always' });

    const confirmed = await env.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa', expand: ['latest_charge.balance_transaction'] });
    expect(confirmed.status).toBe('succeeded');
    expect(confirmed.amount_received).toBe(2000);
    expect(confirmed.payment_method).toMatch(/^pm_/);
    const charge = confirmed.latest_charge as Stripe.Charge;
    expect(charge.amount_captured).toBe(2000);
    expect(charge.payment_method_details?.card?.last4).toBe('4242');
    expect(charge.metadata).toEqual({ order: 'o1' });
    const txn = charge.balance_transaction as Stripe.BalanceTransaction;
    expect(txn.fee).toBe(88); // round(2000 * 2.9%) + 30
    expect(txn.net).toBe(1912);
    expect(txn.available_on).toBeGreaterThan(txn.created);

    await waitFor(() => typesFor(pi.id).includes('payment_intent.succeeded'), 3000, 'succeeded webhook');
    expect(typesFor(pi.id)).toEqual(expect.arrayContaining(['payment_intent.created', 'charge.succeeded', 'payment_intent.succeeded']));
    for (const r of hook.received) {
      const evt = env.stripe.webhooks.constructEvent(r.body, r.signature, secret);
      expect(evt.object).toBe('event');
      expect(evt.api_version).toBe('2026-10-28.endive');
      expect(evt.livemode).toBe(false);
    }
    const succeeded = hook.events().find((e) => e.type === 'payment_intent.succeeded')!;
    expect(succeeded.request?.id).toMatch(/^req_/);
    expect(succeeded.request?.idempotency_key).toMatch(/^stripe-node-retry-/);
  });

  it('automatic_async (the default) returns the charge without a balance transaction, then charge.updated adds it', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method: 'pm_card_mastercard', confirm: true, expand: ['latest_charge'] });
    expect(pi.capture_method).toBe('automatic_async');
    expect(pi.status).toBe('succeeded');
    const ch = pi.latest_charge as Stripe.Charge;
    expect(ch.balance_transaction).toBeNull();
    expect(ch.payment_method_details?.card?.brand).toBe('mastercard');
    const updated = await waitFor(() => hook.events().find((e) => e.type === 'charge.updated' && (e.data.object as Stripe.Charge).id === ch.id), 3000);
    expect(updated.data.previous_attributes).toEqual({ balance_transaction: null });
    const txn = await env.stripe.balanceTransactions.retrieve((updated.data.object as Stripe.Charge).balance_transaction as string);
    expect(txn.fee).toBe(59);
    expect(txn.amount - txn.fee).toBe(txn.net);
  });

  it('a generic decline is a 402 card_error with the PaymentIntent in the body; retrying with visa succeeds', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 1500, currency: 'eur' });
    const err = await stripeError(env.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa_chargeDeclined' }));
    expect(err.statusCode).toBe(402);
    expect(err.type).toBe('StripeCardError');
    expect(err.code).toBe('card_declined');
    expect(err.decline_code).toBe('generic_decline');
    expect(err.payment_intent?.id).toBe(pi.id);
    expect(err.payment_intent?.status).toBe('requires_payment_method');
    expect(err.payment_intent?.last_payment_error?.decline_code).toBe('generic_decline');

    const after = await env.stripe.paymentIntents.retrieve(pi.id);
    expect(after.status).toBe('requires_payment_method');
    expect(after.last_payment_error?.code).toBe('card_declined');
    const failedCharge = await env.stripe.charges.retrieve(after.latest_charge as string);
    expect(failedCharge.status).toBe('failed');
    expect(failedCharge.failure_code).toBe('card_declined');

    const retried = await env.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    expect(retried.status).toBe('succeeded');
    expect(retried.last_payment_error).toBeNull();
    await waitFor(() => typesFor(pi.id).includes('payment_intent.succeeded'), 3000);
    expect(typesFor(pi.id)).toEqual(expect.arrayContaining(['charge.failed', 'payment_intent.payment_failed', 'charge.succeeded']));
  });

  it('insufficient funds declines with decline_code insufficient_funds (also on create with confirm=true)', async () => {
    const err = await stripeError(
      env.stripe.paymentIntents.create({ amount: 5000, currency: 'usd', payment_method: 'pm_card_visa_chargeDeclinedInsufficientFunds', confirm: true }),
    );
    expect(err.statusCode).toBe(402);
    expect(err.decline_code).toBe('insufficient_funds');
    expect(err.message).toBe('Your card has insufficient funds.');
    expect(err.payment_intent?.status).toBe('requires_payment_method');
  });

  it.each(['pm_card_authenticationRequired', 'pm_card_threeDSecure2Required'])('%s asks for 3-D Secure; completing it succeeds', async (pm) => {
    const pi = await env.stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: pm, confirm: true, capture_method: 'automatic' });
    expect(pi.status).toBe('requires_action');
    expect(pi.next_action?.type).toBe('use_stripe_sdk');
    const done = await env.admin('POST', `/_emulator/3ds/${pi.id}/complete`);
    expect(done.status).toBe(200);
    expect(done.body.status).toBe('succeeded');
    const after = await env.stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
    expect(after.status).toBe('succeeded');
    expect((after.latest_charge as Stripe.Charge).payment_method_details?.card?.three_d_secure?.result).toBe('authenticated');
    await waitFor(() => typesFor(pi.id).includes('payment_intent.succeeded'), 3000);
    expect(typesFor(pi.id)).toContain('payment_intent.requires_action');
  });

  it('a failed 3-D Secure challenge returns the PI to requires_payment_method with payment_intent_authentication_failure', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_authenticationRequired', confirm: true, return_url: 'https://shop.example/return' });
    expect(pi.next_action?.type).toBe('redirect_to_url');
    expect(pi.next_action?.redirect_to_url?.return_url).toBe('https://shop.example/return');
    const failed = await env.admin('POST', `/_emulator/3ds/${pi.id}/fail`);
    expect(failed.body.status).toBe('requires_payment_method');
    const after = await env.stripe.paymentIntents.retrieve(pi.id);
    expect(after.last_payment_error?.code).toBe('payment_intent_authentication_failure');
    await waitFor(() => typesFor(pi.id).includes('payment_intent.payment_failed'), 3000);
    // completing again is an illegal transition
    const again = await env.admin('POST', `/_emulator/3ds/${pi.id}/complete`);
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('payment_intent_unexpected_state');
  });

  it('off-session payment with a 3DS card fails with authentication_required', async () => {
    const cus = await env.stripe.customers.create({ email: 'a@example.com' });
    const pm = await env.stripe.paymentMethods.attach('pm_card_authenticationRequired', { customer: cus.id });
    const err = await stripeError(env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: cus.id, payment_method: pm.id, off_session: true, confirm: true }));
    expect(err.statusCode).toBe(402);
    expect(err.code).toBe('authentication_required');
  });

  it('manual capture: authorise, capture part with amount_to_capture, then capture again is illegal', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 10_000, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    expect(pi.status).toBe('requires_capture');
    expect(pi.amount_capturable).toBe(10_000);
    const ch0 = await env.stripe.charges.retrieve(pi.latest_charge as string);
    expect(ch0.captured).toBe(false);
    expect(ch0.balance_transaction).toBeNull();
    expect(ch0.payment_method_details?.card?.capture_before).toBeGreaterThan(ch0.created);

    const tooMuch = await stripeError(env.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 10_001 }));
    expect(tooMuch.statusCode).toBe(400);
    expect(tooMuch.param).toBe('amount_to_capture');

    const captured = await env.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 6_000, expand: ['latest_charge.balance_transaction'] });
    expect(captured.status).toBe('succeeded');
    expect(captured.amount_received).toBe(6_000);
    expect(captured.amount_capturable).toBe(0);
    const ch = captured.latest_charge as Stripe.Charge;
    expect(ch.captured).toBe(true);
    expect(ch.amount_captured).toBe(6_000);
    expect((ch.balance_transaction as Stripe.BalanceTransaction).amount).toBe(6_000);
    expect((ch.balance_transaction as Stripe.BalanceTransaction).fee).toBe(204); // 174 + 30

    const again = await stripeError(env.stripe.paymentIntents.capture(pi.id));
    expect(again.statusCode).toBe(400);
    expect(again.code).toBe('payment_intent_unexpected_state');
    expect(again.message).toContain('status of succeeded');
    await waitFor(() => typesFor(pi.id).includes('charge.captured'), 3000);
    expect(typesFor(pi.id)).toEqual(expect.arrayContaining(['payment_intent.amount_capturable_updated', 'charge.captured', 'payment_intent.succeeded']));
  });

  it('cancel releases an authorisation; canceling a succeeded PI is an illegal transition', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 800, currency: 'usd', capture_method: 'manual', payment_method: 'pm_card_visa', confirm: true });
    const canceled = await env.stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'requested_by_customer' });
    expect(canceled.status).toBe('canceled');
    expect(canceled.cancellation_reason).toBe('requested_by_customer');
    expect(canceled.amount_capturable).toBe(0);
    // As Stripe since 2025-03-31.basil: the release is no refund.
    const ch = await env.stripe.charges.retrieve(pi.latest_charge as string);
    expect(ch).toMatchObject({ refunded: false, amount_refunded: 0, amount_captured: 0, captured: false });
    expect((await env.stripe.refunds.list({ payment_intent: pi.id })).data).toEqual([]);
    await waitFor(() => typesFor(pi.id).includes('payment_intent.canceled'), 3000);
    expect(typesFor(pi.id)).not.toContain('charge.refunded');

    const done = await env.stripe.paymentIntents.create({ amount: 800, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
    const err = await stripeError(env.stripe.paymentIntents.cancel(done.id));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('payment_intent_unexpected_state');
    const conf = await stripeError(env.stripe.paymentIntents.confirm(done.id, { payment_method: 'pm_card_visa' }));
    expect(conf.code).toBe('payment_intent_unexpected_state');
  });

  it('update changes amount and metadata before confirmation, and is refused after success', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', metadata: { a: '1', b: '2' } });
    const up = await env.stripe.paymentIntents.update(pi.id, { amount: 1200, metadata: { b: '', c: '3' } });
    expect(up.amount).toBe(1200);
    expect(up.metadata).toEqual({ a: '1', c: '3' });
    const ok = await env.stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    expect(ok.amount_received).toBe(1200);
    const err = await stripeError(env.stripe.paymentIntents.update(pi.id, { amount: 5 }));
    expect(err.code).toBe('payment_intent_unexpected_state');
  });

  it('payment_method_types is refused on endive; allowed_payment_method_types is used instead', async () => {
    const err = await stripeError(env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', payment_method_types: ['card'] } as never));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('payment_method_types_no_longer_supported');
    expect(err.param).toBe('payment_method_types');
    const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', allowed_payment_method_types: ['card'] });
    expect(pi.payment_method_types).toEqual(['card']);
    expect(pi.automatic_payment_methods).toBeNull();
  });

  it('setup_future_usage with a customer attaches the card after the payment', async () => {
    const cus = await env.stripe.customers.create({ name: 'App User' });
    const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: cus.id, setup_future_usage: 'off_session', payment_method: 'pm_card_visa', confirm: true });
    const pms = await env.stripe.customers.listPaymentMethods(cus.id);
    expect(pms.data.map((p) => p.id)).toEqual([pi.payment_method]);
  });

  it('pm_card_createDispute succeeds, then charge.dispute.created arrives with a dispute balance transaction', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 4000, currency: 'usd', payment_method: 'pm_card_createDispute', confirm: true });
    expect(pi.status).toBe('succeeded');
    const evt = await waitFor(() => hook.events().find((e) => e.type === 'charge.dispute.created'), 3000);
    const dispute = evt.data.object as Stripe.Dispute;
    expect(dispute.charge).toBe(pi.latest_charge);
    expect(dispute.amount).toBe(4000);
    expect(dispute.balance_transactions[0]!.amount).toBe(-4000);
    expect(dispute.balance_transactions[0]!.fee).toBe(1500);
    const ch = await env.stripe.charges.retrieve(pi.latest_charge as string);
    expect(ch.disputed).toBe(true);
    expect((await env.stripe.disputes.retrieve(dispute.id)).reason).toBe('fraudulent');
  });
});

describe('publishable key (browser / mobile SDK)', () => {
  it('can confirm and retrieve with the client secret', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const confirmed = await env.browser.paymentIntents.confirm(pi.id, { client_secret: pi.client_secret!, payment_method: 'pm_card_visa' } as Stripe.PaymentIntentConfirmParams);
    expect(confirmed.status).toBe('succeeded');
    const read = await env.browser.paymentIntents.retrieve(pi.id, { client_secret: pi.client_secret! });
    expect(read.status).toBe('succeeded');
  });

  it('is refused for server-only calls with 401', async () => {
    const err = await stripeError(env.browser.paymentIntents.create({ amount: 1000, currency: 'usd' }));
    expect(err.statusCode).toBe(401);
    expect(err.type).toBe('StripeAuthenticationError');
    expect(err.message).toContain('cannot be made with a publishable API key');
    const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    expect((await stripeError(env.browser.paymentIntents.retrieve(pi.id))).statusCode).toBe(401);
    expect((await stripeError(env.browser.paymentIntents.capture(pi.id))).statusCode).toBe(401);
    expect((await stripeError(env.browser.refunds.create({ payment_intent: pi.id }))).statusCode).toBe(401);
    expect((await stripeError(env.browser.customers.list())).statusCode).toBe(401);
  });

  it('a wrong client secret is a 400 on client_secret and changes nothing', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const err = await stripeError(
      env.browser.paymentIntents.confirm(pi.id, { client_secret: `${pi.id}_secret_wrong`, payment_method: 'pm_card_visa' } as Stripe.PaymentIntentConfirmParams),
    );
    expect(err.statusCode).toBe(400);
    expect(err.param).toBe('client_secret');
    expect((await env.stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');
    const other = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const cross = await stripeError(env.browser.paymentIntents.retrieve(pi.id, { client_secret: other.client_secret! }));
    expect(cross.statusCode).toBe(400);
  });

  it('a bad or missing secret key is a 401', async () => {
    const bad = new Stripe('sk_test_nope1234', { ...env.emu.stripeConfig, maxNetworkRetries: 0 });
    const err = await stripeError(bad.customers.list());
    expect(err.statusCode).toBe(401);
    expect(err.message).toContain('Invalid API Key provided: sk_test_');
    expect(err.message).not.toContain('sk_test_nope1234');
    const res = await fetch(`${env.emu.url}/v1/customers`);
    expect(res.status).toBe(401);
  });
});
