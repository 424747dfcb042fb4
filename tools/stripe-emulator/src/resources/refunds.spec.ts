import Stripe from 'stripe';
import { startTestEnv, stripeError, TestEnv, waitFor, WebhookReceiver } from '../test-utils';

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
beforeEach(async () => {
  env.emu.reset();
  hook.received.length = 0;
  await env.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['refund.created', 'charge.refunded', 'refund.updated', 'charge.refund.updated', 'refund.failed'] });
});

const paid = (amount: number) => env.stripe.paymentIntents.create({ amount, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'automatic' });

describe('refunds', () => {
  it('several partial refunds add up in charge.amount_refunded, each with its own negative balance transaction', async () => {
    const pi = await paid(5000);
    const r1 = await env.stripe.refunds.create({ payment_intent: pi.id, amount: 1000, metadata: { reason_code: 'damaged' } });
    expect(r1.status).toBe('succeeded');
    expect(r1.amount).toBe(1000);
    expect(r1.charge).toBe(pi.latest_charge);
    expect(r1.metadata).toEqual({ reason_code: 'damaged' });
    const r2 = await env.stripe.refunds.create({ charge: pi.latest_charge as string, amount: 1500 });
    const ch = await env.stripe.charges.retrieve(pi.latest_charge as string, { expand: ['refunds'] });
    expect(ch.amount_refunded).toBe(2500);
    expect(ch.refunded).toBe(false);
    expect(ch.refunds?.data.map((r) => r.id)).toEqual([r2.id, r1.id]);
    const t1 = await env.stripe.balanceTransactions.retrieve(r1.balance_transaction as string);
    expect(t1.amount).toBe(-1000);
    expect(t1.type).toBe('refund');
    expect(t1.net).toBe(-1000);
    expect(t1.source).toBe(r1.id);

    // the rest (no amount) refunds what is left, then the charge is fully refunded
    const r3 = await env.stripe.refunds.create({ payment_intent: pi.id });
    expect(r3.amount).toBe(2500);
    const full = await env.stripe.charges.retrieve(pi.latest_charge as string);
    expect(full.amount_refunded).toBe(5000);
    expect(full.refunded).toBe(true);
    const list = await env.stripe.refunds.list({ payment_intent: pi.id });
    expect(list.data).toHaveLength(3);

    await waitFor(() => hook.types().filter((t) => t === 'charge.refunded').length === 3, 3000);
    const last = hook.events().filter((e) => e.type === 'charge.refunded').map((e) => (e.data.object as Stripe.Charge).amount_refunded);
    expect(last.sort((a, b) => a - b)).toEqual([1000, 2500, 5000]);
    expect(hook.types().filter((t) => t === 'refund.created')).toHaveLength(3);
  });

  it('refunding more than was captured is a 400 on amount with a clear message, and a refunded charge cannot be refunded again', async () => {
    const pi = await paid(2000);
    await env.stripe.refunds.create({ payment_intent: pi.id, amount: 1500 });
    const err = await stripeError(env.stripe.refunds.create({ payment_intent: pi.id, amount: 600 }));
    expect(err.statusCode).toBe(400);
    expect(err.param).toBe('amount');
    expect(err.message).toBe('Refund amount (6.00 USD) is greater than unrefunded amount on charge (5.00 USD)');
    await env.stripe.refunds.create({ payment_intent: pi.id });
    const again = await stripeError(env.stripe.refunds.create({ payment_intent: pi.id, amount: 1 }));
    expect(again.code).toBe('charge_already_refunded');
  });

  it('after a partial capture only the captured amount can be refunded', async () => {
    const pi = await env.stripe.paymentIntents.create({ amount: 3000, currency: 'usd', payment_method: 'pm_card_visa', confirm: true, capture_method: 'manual' });
    const notYet = await stripeError(env.stripe.refunds.create({ payment_intent: pi.id }));
    expect(notYet.statusCode).toBe(400);
    await env.stripe.paymentIntents.capture(pi.id, { amount_to_capture: 1000 });
    const err = await stripeError(env.stripe.refunds.create({ payment_intent: pi.id, amount: 1001 }));
    expect(err.param).toBe('amount');
    const ok = await env.stripe.refunds.create({ payment_intent: pi.id });
    expect(ok.amount).toBe(1000);
  });

  it('refund metadata update emits refund.updated and charge.refund.updated; an admin-failed refund gives the money back', async () => {
    const pi = await paid(2000);
    const r = await env.stripe.refunds.create({ payment_intent: pi.id, amount: 700 });
    const up = await env.stripe.refunds.update(r.id, { metadata: { note: 'x' } });
    expect(up.metadata).toEqual({ note: 'x' });
    const failed = await env.admin('POST', `/_emulator/refunds/${r.id}/fail`);
    expect(failed.body.status).toBe('failed');
    const ch = await env.stripe.charges.retrieve(pi.latest_charge as string);
    expect(ch.amount_refunded).toBe(0);
    await waitFor(() => hook.types().includes('refund.failed'), 3000);
    expect(hook.types().filter((t) => t === 'charge.refund.updated').length).toBe(2);
  });
});
