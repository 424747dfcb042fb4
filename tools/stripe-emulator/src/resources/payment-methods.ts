import type { Emulator } from '../app';
import { cardError, invalidRequest, resourceMissing } from '../http/errors';
import { f, EXPAND, LIST } from '../http/params';
import type { RequestContext } from '../http/router';
import { newId, nowSeconds } from '../ids';
import type { StripeObject } from '../store';
import { cardForNumber, TEST_TOKENS, TestCard } from './cards';
import { mergeMetadata, nullAddress } from './common';

export const billingDetails = f.obj({
  address: f.obj({ city: f.str(), country: f.str(), line1: f.str(), line2: f.str(), postal_code: f.str(), state: f.str() }),
  email: f.str({ emptyOk: true }),
  name: f.str({ emptyOk: true }),
  phone: f.str({ emptyOk: true }),
});

export const paymentMethodData = f.obj({
  type: f.str({ required: true }),
  card: f.obj({ number: f.str(), exp_month: f.int(), exp_year: f.int(), cvc: f.str(), token: f.str() }),
  billing_details: billingDetails,
  metadata: f.meta(),
  allow_redisplay: f.enum(['always', 'limited', 'unspecified']),
});

function fingerprintOf(number: string): string {
  let h = 0;
  for (const ch of number) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `fp${h.toString(36)}`.padEnd(16, 'x').slice(0, 16);
}

export function cardDetails(c: TestCard, expMonth = 12, expYear = new Date().getUTCFullYear() + 3) {
  return {
    brand: c.brand,
    checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: 'pass' },
    country: c.country,
    display_brand: c.brand,
    exp_month: expMonth,
    exp_year: expYear,
    fingerprint: fingerprintOf(c.number),
    funding: c.funding,
    generated_from: null,
    last4: c.number.slice(-4),
    networks: { available: [c.brand], preferred: null },
    regulated_status: 'unregulated',
    three_d_secure_usage: { supported: true },
    wallet: null,
  };
}

export function createCardPaymentMethod(
  emu: Emulator,
  c: TestCard,
  opts: { type?: 'card' | 'card_present'; billing_details?: any; metadata?: Record<string, string>; exp_month?: number; exp_year?: number; allow_redisplay?: string } = {},
): StripeObject {
  const type = opts.type ?? 'card';
  const pm: StripeObject = {
    id: newId('pm'),
    object: 'payment_method',
    allow_redisplay: opts.allow_redisplay ?? 'unspecified',
    billing_details: { address: nullAddress(), email: null, name: null, phone: null, tax_id: null, ...(opts.billing_details ?? {}) },
    created: nowSeconds(),
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: opts.metadata ?? {},
    type,
  };
  if (type === 'card') pm.card = cardDetails(c, opts.exp_month, opts.exp_year);
  else {
    const d = cardDetails(c);
    pm.card_present = {
      brand: d.brand,
      brand_product: null,
      cardholder_name: null,
      country: d.country,
      description: null,
      exp_month: d.exp_month,
      exp_year: d.exp_year,
      fingerprint: d.fingerprint,
      funding: d.funding,
      issuer: null,
      last4: d.last4,
      networks: { available: [d.brand], preferred: null },
      offline: null,
      preferred_locales: ['en'],
      read_method: 'contactless_emv',
      wallet: { type: 'unknown' },
    };
  }
  emu.store.paymentMethods.insert(pm);
  emu.store.pmInternal.set(pm.id, { behavior: c.behavior });
  return pm;
}

/** An existing pm id, or a test token (`pm_card_visa`…), which creates a fresh PaymentMethod each time. */
export function resolvePaymentMethod(emu: Emulator, idOrToken: string, param = 'payment_method'): StripeObject {
  const token = TEST_TOKENS[idOrToken];
  if (token) return createCardPaymentMethod(emu, token);
  const pm = emu.store.paymentMethods.get(idOrToken);
  if (!pm) throw resourceMissing('PaymentMethod', idOrToken, param);
  return pm;
}

export function paymentMethodFromData(emu: Emulator, data: any, param = 'payment_method_data'): StripeObject {
  if (data.type !== 'card') throw invalidRequest(`The emulator only supports payment_method_data[type]=card.`, { param: `${param}[type]` });
  const card = data.card ?? {};
  let c: TestCard;
  if (card.token) {
    const t = TEST_TOKENS[String(card.token).replace(/^tok_/, 'pm_card_')];
    if (!t) throw resourceMissing('token', card.token, `${param}[card][token]`);
    c = t;
  } else if (card.number) c = cardForNumber(card.number);
  else throw invalidRequest('Missing required param: card[number].', { param: `${param}[card][number]`, code: 'parameter_missing' });
  return createCardPaymentMethod(emu, c, {
    billing_details: data.billing_details,
    metadata: data.metadata,
    exp_month: card.exp_month,
    exp_year: card.exp_year,
    allow_redisplay: data.allow_redisplay,
  });
}

export function attachPaymentMethod(emu: Emulator, pm: StripeObject, customerId: string, ctx: RequestContext | null, param = 'customer'): StripeObject {
  emu.get(emu.store.customers, 'customer', customerId, param);
  if (pm.customer && pm.customer !== customerId) {
    throw invalidRequest(
      'The payment method you provided has already been attached to a customer. To reuse this payment method, use it in a SetupIntent or PaymentIntent with setup_future_usage.',
      { param: 'payment_method' },
    );
  }
  if (pm.customer === customerId) return pm;
  const internal = emu.store.pmInternal.get(pm.id);
  if (internal?.behavior.kind === 'decline' && internal.behavior.code === 'card_declined' && !pm.card?.last4?.endsWith('0341')) {
    // most declining test cards fail on attach, like Stripe (4000000000000341 attaches but fails to charge)
    throw cardError(internal.behavior.message, internal.behavior.code, { decline_code: internal.behavior.decline_code, param: '' });
  }
  pm.customer = customerId;
  emu.emit('payment_method.attached', pm, ctx);
  return pm;
}

export function register(emu: Emulator): void {
  const { store } = emu;

  emu.route({
    method: 'POST',
    path: '/v1/payment_methods',
    publishable: true,
    spec: {
      ...EXPAND,
      type: f.str(),
      card: f.obj({ number: f.str(), exp_month: f.int(), exp_year: f.int(), cvc: f.str(), token: f.str() }),
      billing_details: billingDetails,
      metadata: f.meta(),
      allow_redisplay: f.enum(['always', 'limited', 'unspecified']),
      customer: f.str(),
      payment_method: f.str(),
    },
    handler: (ctx) => {
      const p = ctx.params;
      if (p.payment_method) {
        // cloning a customer's pm (Connect) — just resolve it
        return resolvePaymentMethod(emu, p.payment_method);
      }
      if (!p.type) throw invalidRequest('Missing required param: type.', { param: 'type', code: 'parameter_missing' });
      return paymentMethodFromData(emu, { ...p }, '');
    },
  });

  emu.route({
    method: 'GET',
    path: '/v1/payment_methods/:id',
    spec: EXPAND,
    handler: (ctx) => {
      const id = ctx.pathParams.id!;
      if (TEST_TOKENS[id]) return resolvePaymentMethod(emu, id);
      return emu.get(store.paymentMethods, 'PaymentMethod', id);
    },
  });

  emu.route({
    method: 'POST',
    path: '/v1/payment_methods/:id',
    spec: { ...EXPAND, metadata: f.meta(), billing_details: billingDetails, allow_redisplay: f.enum(['always', 'limited', 'unspecified']), card: f.obj({ exp_month: f.int(), exp_year: f.int() }) },
    handler: (ctx) => {
      const pm = emu.get(store.paymentMethods, 'PaymentMethod', ctx.pathParams.id!);
      const prev: Record<string, unknown> = {};
      if (ctx.params.metadata) {
        prev.metadata = pm.metadata;
        pm.metadata = mergeMetadata(pm.metadata, ctx.params.metadata);
      }
      if (ctx.params.billing_details) {
        prev.billing_details = pm.billing_details;
        pm.billing_details = { ...pm.billing_details, ...ctx.params.billing_details };
      }
      if (ctx.params.allow_redisplay) pm.allow_redisplay = ctx.params.allow_redisplay;
      if (ctx.params.card && pm.card) Object.assign(pm.card, ctx.params.card);
      emu.emit('payment_method.updated', pm, ctx, prev);
      return pm;
    },
  });

  emu.route({
    method: 'POST',
    path: '/v1/payment_methods/:id/attach',
    spec: { ...EXPAND, customer: f.req() },
    handler: (ctx) => attachPaymentMethod(emu, resolvePaymentMethod(emu, ctx.pathParams.id!, 'payment_method'), ctx.params.customer, ctx),
  });

  emu.route({
    method: 'POST',
    path: '/v1/payment_methods/:id/detach',
    spec: EXPAND,
    handler: (ctx) => {
      const pm = emu.get(store.paymentMethods, 'PaymentMethod', ctx.pathParams.id!);
      if (!pm.customer) throw invalidRequest('The payment method you provided is not attached to a customer so detachment is impossible.', { param: 'payment_method' });
      const prev = { customer: pm.customer };
      pm.customer = null;
      emu.emit('payment_method.detached', pm, ctx, prev);
      return pm;
    },
  });

  const listSpec = { ...LIST, customer: f.str(), type: f.str(), allow_redisplay: f.str() };
  const list = (customer: string | undefined, type: string | undefined, url: string, params: any) => {
    if (customer) emu.get(store.customers, 'customer', customer, 'customer');
    return emu.list(store.paymentMethods, url, params, (pm) => (!customer || pm.customer === customer) && (!type || pm.type === type) && (customer !== undefined || !!pm.customer));
  };
  emu.route({ method: 'GET', path: '/v1/payment_methods', spec: listSpec, handler: (ctx) => list(ctx.params.customer, ctx.params.type, '/v1/payment_methods', ctx.params) });
  emu.route({
    method: 'GET',
    path: '/v1/customers/:id/payment_methods',
    spec: { ...listSpec },
    handler: (ctx) => list(ctx.pathParams.id!, ctx.params.type, `/v1/customers/${ctx.pathParams.id}/payment_methods`, ctx.params),
  });
  emu.route({
    method: 'GET',
    path: '/v1/customers/:cus/payment_methods/:id',
    spec: EXPAND,
    handler: (ctx) => {
      const pm = emu.get(store.paymentMethods, 'PaymentMethod', ctx.pathParams.id!);
      if (pm.customer !== ctx.pathParams.cus) throw resourceMissing('PaymentMethod', pm.id);
      return pm;
    },
  });
}
