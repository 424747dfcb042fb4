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
  await env.stripe.webhookEndpoints.create({ url: hook.url, enabled_events: ['terminal.reader.action_succeeded', 'terminal.reader.action_failed', 'payment_intent.amount_capturable_updated', 'payment_intent.payment_failed'] });
});

async function setup() {
  const location = await env.stripe.terminal.locations.create({ display_name: 'Store 1', address: { line1: '1 Main St', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' } });
  const reader = await env.stripe.terminal.readers.create({ registration_code: 'simulated-wpe', location: location.id, label: 'Till 1' });
  const pi = await env.stripe.paymentIntents.create({ amount: 1234, currency: 'usd', allowed_payment_method_types: ['card_present'], capture_method: 'manual' });
  return { location, reader, pi };
}

describe('Terminal', () => {
  it('full flow: location, connection token, simulated reader, process, present card, capture with card_present fees', async () => {
    const { location, reader, pi } = await setup();
    expect(reader.device_type).toBe('simulated_wisepos_e');
    expect(reader.status).toBe('online');
    expect(reader.location).toBe(location.id);
    const token = await env.stripe.terminal.connectionTokens.create({ location: location.id });
    expect(token.secret).toMatch(/^pst_test_/);
    expect(token.location).toBe(location.id);
    expect(pi.payment_method_types).toEqual(['card_present']);

    const shown = await env.stripe.terminal.readers.setReaderDisplay(reader.id, {
      type: 'cart',
      cart: { currency: 'usd', line_items: [{ amount: 1234, description: 'Coffee', quantity: 1 }], total: 1234, tax: 0 },
    });
    expect(shown.action?.type).toBe('set_reader_display');
    expect(shown.action?.status).toBe('succeeded');

    const processing = await env.stripe.terminal.readers.processPaymentIntent(reader.id, { payment_intent: pi.id });
    expect(processing.action?.status).toBe('in_progress');
    expect(processing.action?.process_payment_intent?.payment_intent).toBe(pi.id);

    const presented = await env.stripe.testHelpers.terminal.readers.presentPaymentMethod(reader.id);
    expect(presented.action?.status).toBe('succeeded');
    const authorised = await env.stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge'] });
    expect(authorised.status).toBe('requires_capture');
    const ch = authorised.latest_charge as Stripe.Charge;
    expect(ch.payment_method_details?.type).toBe('card_present');
    expect(ch.payment_method_details?.card_present?.last4).toBe('4242');

    const captured = await env.stripe.paymentIntents.capture(pi.id, { expand: ['latest_charge.balance_transaction'] });
    const txn = (captured.latest_charge as Stripe.Charge).balance_transaction as Stripe.BalanceTransaction;
    expect(txn.fee).toBe(38); // round(1234 * 2.7%) = 33, + 5
    expect(txn.net).toBe(1196);

    await waitFor(() => hook.types().includes('terminal.reader.action_succeeded'), 3000);
    const evt = hook.events().find((e) => e.type === 'terminal.reader.action_succeeded' && (e.data.object as Stripe.Terminal.Reader).action?.type === 'process_payment_intent')!;
    expect((evt.data.object as Stripe.Terminal.Reader).id).toBe(reader.id);

    const readers = await env.stripe.terminal.readers.list({ location: location.id });
    expect(readers.data.map((r) => r.id)).toEqual([reader.id]);
    expect((await env.stripe.terminal.readers.del(reader.id)).deleted).toBe(true);
    expect((await stripeError(env.stripe.terminal.readers.retrieve(reader.id))).statusCode).toBe(404);
  });

  it('a declined card fails the action and the PI; the reader is free again', async () => {
    const { reader, pi } = await setup();
    await env.stripe.terminal.readers.processPaymentIntent(reader.id, { payment_intent: pi.id });
    const r = await env.stripe.testHelpers.terminal.readers.presentPaymentMethod(reader.id, { card_present: { number: '4000000000000002' }, type: 'card_present' });
    expect(r.action?.status).toBe('failed');
    expect(r.action?.failure_code).toBe('card_declined');
    const after = await env.stripe.paymentIntents.retrieve(pi.id);
    expect(after.status).toBe('requires_payment_method');
    expect(after.last_payment_error?.decline_code).toBe('generic_decline');
    await waitFor(() => hook.types().includes('terminal.reader.action_failed') && hook.types().includes('payment_intent.payment_failed'), 3000);
    // retry on the same reader works
    await env.stripe.terminal.readers.processPaymentIntent(reader.id, { payment_intent: pi.id });
    const ok = await env.stripe.testHelpers.terminal.readers.presentPaymentMethod(reader.id, { card_present: { number: '5555555555554444' } });
    expect(ok.action?.status).toBe('succeeded');
    expect((await env.stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_capture');
  });

  it('a busy reader answers 409 terminal_reader_busy; a timeout card leaves it in progress until cancel_action', async () => {
    const { reader, pi } = await setup();
    await env.stripe.terminal.readers.processPaymentIntent(reader.id, { payment_intent: pi.id });
    const other = await env.stripe.paymentIntents.create({ amount: 500, currency: 'usd', allowed_payment_method_types: ['card_present'], capture_method: 'manual' });
    const busy = await stripeError(env.stripe.terminal.readers.processPaymentIntent(reader.id, { payment_intent: other.id }));
    expect(busy.statusCode).toBe(409);
    expect(busy.code).toBe('terminal_reader_busy');
    const display = await stripeError(
      env.stripe.terminal.readers.setReaderDisplay(reader.id, { type: 'cart', cart: { currency: 'usd', line_items: [{ amount: 1, description: 'x', quantity: 1 }], total: 1 } }),
    );
    expect(display.code).toBe('terminal_reader_busy');

    const silent = await env.stripe.testHelpers.terminal.readers.presentPaymentMethod(reader.id, { card_present: { number: '4000000000000408' } });
    expect(silent.action?.status).toBe('in_progress');
    await new Promise((r) => setTimeout(r, 50));
    expect(((await env.stripe.terminal.readers.retrieve(reader.id)) as Stripe.Terminal.Reader).action?.status).toBe('in_progress');
    expect((await env.stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_payment_method');

    const canceled = (await env.stripe.terminal.readers.cancelAction(reader.id)) as Stripe.Terminal.Reader;
    expect(canceled.action?.status).toBe('failed');
    const nothing = await stripeError(env.stripe.terminal.readers.cancelAction(reader.id));
    expect(nothing.statusCode).toBe(400);
    // free again
    const again = await env.stripe.terminal.readers.processPaymentIntent(reader.id, { payment_intent: other.id });
    expect(again.action?.status).toBe('in_progress');
  });

  it('refuses card-only PIs, unknown registration codes and offline readers', async () => {
    const { reader } = await setup();
    const web = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd' });
    const err = await stripeError(env.stripe.terminal.readers.processPaymentIntent(reader.id, { payment_intent: web.id }));
    expect(err.statusCode).toBe(400);
    const code = await stripeError(env.stripe.terminal.readers.create({ registration_code: 'puppies-plug-could' }));
    expect(code.param).toBe('registration_code');
    const off = await env.admin('POST', `/_emulator/terminal/readers/${reader.id}/status`, { status: 'offline' });
    expect(off.body.status).toBe('offline');
    const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', allowed_payment_method_types: ['card_present'] });
    const offline = await stripeError(env.stripe.terminal.readers.processPaymentIntent(reader.id, { payment_intent: pi.id }));
    expect(offline.code).toBe('terminal_reader_offline');
  });

  it('automatic capture on a reader succeeds directly, with a tip', async () => {
    const { reader } = await setup();
    const pi = await env.stripe.paymentIntents.create({ amount: 1000, currency: 'usd', allowed_payment_method_types: ['card_present'], capture_method: 'automatic' });
    await env.stripe.terminal.readers.processPaymentIntent(reader.id, { payment_intent: pi.id });
    await env.stripe.testHelpers.terminal.readers.presentPaymentMethod(reader.id, { amount_tip: 200 });
    const done = await env.stripe.paymentIntents.retrieve(pi.id);
    expect(done.status).toBe('succeeded');
    expect(done.amount_received).toBe(1200);
  });
});
