/**
 * Every request shape the platform's services send to Stripe, in the order of a realistic run
 * (web checkout, app PaymentSheet, POS Terminal, refunds and reconciliation, payout reconciliation, webhook setup).
 * The contract suite replays them against the emulator and stripe-mock; services can reuse them.
 * Each shape calls the typed SDK method; `params(ids)` is the exact parameter object sent.
 */
import type Stripe from 'stripe';

export type Ids = Record<string, string>;

export interface RequestShape {
  name: string;
  channel: 'web' | 'app' | 'pos' | 'ops';
  method: 'GET' | 'POST' | 'DELETE';
  /** path template, documentation only (`{pi_web}` = ids.pi_web) */
  path: string;
  params: (ids: Ids) => Record<string, any>;
  /** the SDK call */
  invoke: (stripe: Stripe, ids: Ids, params: Record<string, any>) => Promise<any>;
  /** ids to remember from the response for later shapes */
  save?: (res: any) => Ids;
  /**
   * Parameters that stripe-mock (bundled OpenAPI spec older than the SDK's endive) rejects only
   * because of the version skew; the contract suite reports them as unchecked.
   */
  versionSkewParams?: string[];
  /**
   * Account state no API call of the services creates: `automatic_payout` = Stripe's payout schedule has paid
   * out at least once (the emulator's contract run triggers it with `runPayouts()` just before this shape).
   */
  requires?: 'automatic_payout';
}

const id = (ids: Ids, k: string) => ids[k] ?? `${k}_missing`;
const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'object' && v && 'id' in v ? String((v as { id: string }).id) : undefined);
const saveId = (name: string) => (res: any) => (res?.id ? { [name]: res.id } : {});
const saveCharge = (name: string) => (res: any): Ids => {
  const out: Ids = {};
  if (res?.id) out[name] = res.id;
  const ch = str(res?.latest_charge);
  if (ch) out[`${name}_charge`] = ch;
  return out;
};

export const REQUEST_SHAPES: RequestShape[] = [
  // ---- app (mobile PaymentSheet): customer, ephemeral key, customer session, setup intent
  {
    name: 'customers.create',
    channel: 'app',
    method: 'POST',
    path: '/v1/customers',
    params: () => ({ email: 'buyer@example.com', name: 'Buyer', metadata: { app_user_id: 'u_123' } }),
    invoke: (s, _i, p) => s.customers.create(p),
    save: saveId('customer'),
  },
  {
    name: 'ephemeralKeys.create',
    channel: 'app',
    method: 'POST',
    path: '/v1/ephemeral_keys',
    params: (ids) => ({ customer: id(ids, 'customer') }),
    invoke: (s, _i, p) => s.ephemeralKeys.create(p, { apiVersion: '2020-08-27' }),
  },
  {
    name: 'customerSessions.create',
    channel: 'app',
    method: 'POST',
    path: '/v1/customer_sessions',
    params: (ids) => ({ customer: id(ids, 'customer'), components: { mobile_payment_element: { enabled: true, features: { payment_method_save: 'enabled', payment_method_redisplay: 'enabled', payment_method_remove: 'enabled' } } } }),
    invoke: (s, _i, p) => s.customerSessions.create(p as Stripe.CustomerSessionCreateParams),
  },
  {
    name: 'setupIntents.create (save a card)',
    channel: 'app',
    method: 'POST',
    path: '/v1/setup_intents',
    params: (ids) => ({ customer: id(ids, 'customer'), usage: 'off_session', automatic_payment_methods: { enabled: true, allow_redirects: 'never' }, metadata: { app_user_id: 'u_123' } }),
    invoke: (s, _i, p) => s.setupIntents.create(p),
    save: saveId('seti'),
  },
  {
    name: 'setupIntents.confirm',
    channel: 'app',
    method: 'POST',
    path: '/v1/setup_intents/{seti}/confirm',
    params: () => ({ payment_method: 'pm_card_visa' }),
    invoke: (s, ids, p) => s.setupIntents.confirm(id(ids, 'seti'), p),
  },
  {
    name: 'paymentIntents.create (app: customer + setup_future_usage)',
    channel: 'app',
    method: 'POST',
    path: '/v1/payment_intents',
    params: (ids) => ({
      amount: 2599,
      currency: 'usd',
      customer: id(ids, 'customer'),
      setup_future_usage: 'off_session',
      automatic_payment_methods: { enabled: true },
      metadata: { order_id: 'ord_app_1', channel: 'app' },
    }),
    invoke: (s, _i, p) => s.paymentIntents.create(p as Stripe.PaymentIntentCreateParams, { idempotencyKey: `contract-app-${Date.now()}-${Math.random()}` }),
    save: saveId('pi_app'),
  },
  {
    name: 'paymentIntents.retrieve (app polls status)',
    channel: 'app',
    method: 'GET',
    path: '/v1/payment_intents/{pi_app}',
    params: () => ({}),
    invoke: (s, ids) => s.paymentIntents.retrieve(id(ids, 'pi_app')),
  },
  // ---- web: automatic capture, confirm with a test card
  {
    name: 'paymentIntents.create (web, automatic capture)',
    channel: 'web',
    method: 'POST',
    path: '/v1/payment_intents',
    params: () => ({
      amount: 4200,
      currency: 'usd',
      capture_method: 'automatic',
      automatic_payment_methods: { enabled: true },
      description: 'Order ord_web_1',
      receipt_email: 'buyer@example.com',
      metadata: { order_id: 'ord_web_1', channel: 'web' },
    }),
    invoke: (s, _i, p) => s.paymentIntents.create(p as Stripe.PaymentIntentCreateParams),
    save: saveId('pi_web'),
  },
  {
    name: 'paymentIntents.confirm',
    channel: 'web',
    method: 'POST',
    path: '/v1/payment_intents/{pi_web}/confirm',
    params: () => ({ payment_method: 'pm_card_visa', return_url: 'https://shop.example/checkout/return' }),
    invoke: (s, ids, p) => s.paymentIntents.confirm(id(ids, 'pi_web'), p),
    save: saveCharge('pi_web'),
  },
  {
    name: 'charges.retrieve (expand balance_transaction)',
    channel: 'ops',
    method: 'GET',
    path: '/v1/charges/{pi_web_charge}',
    params: () => ({ expand: ['balance_transaction'] }),
    invoke: (s, ids, p) => s.charges.retrieve(id(ids, 'pi_web_charge'), p),
    save: (res): Ids => {
      const t = str(res?.balance_transaction);
      return t ? { txn: t } : {};
    },
  },
  {
    name: 'balanceTransactions.retrieve',
    channel: 'ops',
    method: 'GET',
    path: '/v1/balance_transactions/{txn}',
    params: () => ({}),
    invoke: (s, ids) => s.balanceTransactions.retrieve(id(ids, 'txn')),
  },
  {
    // The daily audit lists a UTC day's balance transactions page by page (decision 0016).
    name: 'balanceTransactions.list (a day, paged)',
    channel: 'ops',
    method: 'GET',
    path: '/v1/balance_transactions',
    params: () => {
      const now = Math.floor(Date.now() / 1000);
      const start = now - (now % 86_400);
      return { created: { gte: start, lt: start + 86_400 }, limit: 100 };
    },
    invoke: (s, _ids, p) => s.balanceTransactions.list(p),
  },
  {
    name: 'refunds.create (partial, with metadata)',
    channel: 'ops',
    method: 'POST',
    path: '/v1/refunds',
    params: (ids) => ({ payment_intent: id(ids, 'pi_web'), amount: 1000, reason: 'requested_by_customer', metadata: { refund_request_id: 'rr_1' } }),
    invoke: (s, _i, p) => s.refunds.create(p, { idempotencyKey: `contract-refund-${Date.now()}-${Math.random()}` }),
    save: saveId('refund'),
  },
  {
    name: 'events.list',
    channel: 'ops',
    method: 'GET',
    path: '/v1/events',
    params: () => ({ type: 'payment_intent.succeeded', limit: 20 }),
    invoke: (s, _i, p) => s.events.list(p),
  },
  // ---- POS: Terminal
  {
    name: 'terminal.locations.create',
    channel: 'pos',
    method: 'POST',
    path: '/v1/terminal/locations',
    params: () => ({ display_name: 'Store 1', address: { line1: '1 Main St', city: 'Austin', state: 'TX', postal_code: '78701', country: 'US' }, metadata: { store_id: 's1' } }),
    invoke: (s, _i, p) => s.terminal.locations.create(p as Stripe.Terminal.LocationCreateParams),
    save: saveId('location'),
  },
  {
    name: 'terminal.connectionTokens.create (scoped to a location)',
    channel: 'pos',
    method: 'POST',
    path: '/v1/terminal/connection_tokens',
    params: (ids) => ({ location: id(ids, 'location') }),
    invoke: (s, _i, p) => s.terminal.connectionTokens.create(p),
  },
  {
    name: 'terminal.readers.create (simulated)',
    channel: 'pos',
    method: 'POST',
    path: '/v1/terminal/readers',
    params: (ids) => ({ registration_code: 'simulated-wpe', location: id(ids, 'location'), label: 'Till 1' }),
    invoke: (s, _i, p) => s.terminal.readers.create(p as Stripe.Terminal.ReaderCreateParams),
    save: saveId('reader'),
  },
  {
    name: 'terminal.readers.list (by location)',
    channel: 'pos',
    method: 'GET',
    path: '/v1/terminal/readers',
    params: (ids) => ({ location: id(ids, 'location'), limit: 10 }),
    invoke: (s, _i, p) => s.terminal.readers.list(p),
  },
  {
    name: 'paymentIntents.create (POS card_present, manual capture)',
    channel: 'pos',
    method: 'POST',
    path: '/v1/payment_intents',
    params: () => ({ amount: 1850, currency: 'usd', allowed_payment_method_types: ['card_present'], capture_method: 'manual', metadata: { order_id: 'ord_pos_1', channel: 'pos' } }),
    invoke: (s, _i, p) => s.paymentIntents.create(p as Stripe.PaymentIntentCreateParams),
    save: saveId('pi_pos'),
    versionSkewParams: ['allowed_payment_method_types'],
  },
  {
    name: 'terminal.readers.setReaderDisplay',
    channel: 'pos',
    method: 'POST',
    path: '/v1/terminal/readers/{reader}/set_reader_display',
    params: () => ({ type: 'cart', cart: { currency: 'usd', line_items: [{ amount: 1850, description: 'Sandwich', quantity: 1 }], tax: 0, total: 1850 } }),
    invoke: (s, ids, p) => s.terminal.readers.setReaderDisplay(id(ids, 'reader'), p as Stripe.Terminal.ReaderSetReaderDisplayParams),
  },
  {
    name: 'terminal.readers.processPaymentIntent',
    channel: 'pos',
    method: 'POST',
    path: '/v1/terminal/readers/{reader}/process_payment_intent',
    params: (ids) => ({ payment_intent: id(ids, 'pi_pos'), process_config: { enable_customer_cancellation: true } }),
    invoke: (s, ids, p) => s.terminal.readers.processPaymentIntent(id(ids, 'reader'), p as Stripe.Terminal.ReaderProcessPaymentIntentParams),
  },
  {
    name: 'testHelpers.terminal.readers.presentPaymentMethod',
    channel: 'pos',
    method: 'POST',
    path: '/v1/test_helpers/terminal/readers/{reader}/present_payment_method',
    params: () => ({ type: 'card_present', card_present: { number: '4242424242424242' } }),
    invoke: (s, ids, p) => s.testHelpers.terminal.readers.presentPaymentMethod(id(ids, 'reader'), p),
  },
  {
    name: 'paymentIntents.capture (amount_to_capture)',
    channel: 'pos',
    method: 'POST',
    path: '/v1/payment_intents/{pi_pos}/capture',
    params: () => ({ amount_to_capture: 1500, metadata: { captured_by: 'pos' } }),
    invoke: (s, ids, p) => s.paymentIntents.capture(id(ids, 'pi_pos'), p),
  },
  {
    name: 'paymentIntents.create (POS second sale)',
    channel: 'pos',
    method: 'POST',
    path: '/v1/payment_intents',
    params: () => ({ amount: 900, currency: 'usd', allowed_payment_method_types: ['card_present'], capture_method: 'manual' }),
    invoke: (s, _i, p) => s.paymentIntents.create(p as Stripe.PaymentIntentCreateParams),
    save: saveId('pi_pos2'),
    versionSkewParams: ['allowed_payment_method_types'],
  },
  {
    name: 'terminal.readers.processPaymentIntent (to be canceled)',
    channel: 'pos',
    method: 'POST',
    path: '/v1/terminal/readers/{reader}/process_payment_intent',
    params: (ids) => ({ payment_intent: id(ids, 'pi_pos2') }),
    invoke: (s, ids, p) => s.terminal.readers.processPaymentIntent(id(ids, 'reader'), p as Stripe.Terminal.ReaderProcessPaymentIntentParams),
  },
  {
    name: 'terminal.readers.cancelAction',
    channel: 'pos',
    method: 'POST',
    path: '/v1/terminal/readers/{reader}/cancel_action',
    params: () => ({}),
    invoke: (s, ids) => s.terminal.readers.cancelAction(id(ids, 'reader')),
  },
  {
    name: 'paymentIntents.cancel',
    channel: 'pos',
    method: 'POST',
    path: '/v1/payment_intents/{pi_pos2}/cancel',
    params: () => ({ cancellation_reason: 'abandoned' }),
    invoke: (s, ids, p) => s.paymentIntents.cancel(id(ids, 'pi_pos2'), p),
  },
  // ---- ops: payout reconciliation (automatic payouts; `payout.paid` names the payout, its transactions are listed)
  {
    name: 'payouts.list (paid)',
    channel: 'ops',
    method: 'GET',
    path: '/v1/payouts',
    params: () => ({ status: 'paid', limit: 10 }),
    invoke: (s, _i, p) => s.payouts.list(p),
    save: (res): Ids => (res?.data?.[0]?.id ? { payout: res.data[0].id } : {}),
    requires: 'automatic_payout',
  },
  {
    name: 'payouts.retrieve',
    channel: 'ops',
    method: 'GET',
    path: '/v1/payouts/{payout}',
    params: () => ({}),
    invoke: (s, ids) => s.payouts.retrieve(id(ids, 'payout')),
  },
  {
    name: 'balanceTransactions.list (by payout, paged)',
    channel: 'ops',
    method: 'GET',
    path: '/v1/balance_transactions',
    params: (ids) => ({ payout: id(ids, 'payout'), limit: 100 }),
    invoke: (s, _i, p) => s.balanceTransactions.list(p),
  },
  // ---- ops: webhooks
  {
    name: 'webhookEndpoints.create',
    channel: 'ops',
    method: 'POST',
    path: '/v1/webhook_endpoints',
    params: () => ({
      url: 'https://payments.example/webhooks/stripe',
      enabled_events: ['payment_intent.succeeded', 'payment_intent.payment_failed', 'charge.refunded', 'terminal.reader.action_succeeded', 'terminal.reader.action_failed'],
    }),
    invoke: (s, _i, p) => s.webhookEndpoints.create(p as Stripe.WebhookEndpointCreateParams),
  },
];
