/** SetupIntents: save a card for later; on success the payment method is attached to the customer. */
import type { Emulator } from '../app';
import { cardError, invalidRequest, unexpectedState } from '../http/errors';
import { f, EXPAND, LIST, Spec } from '../http/params';
import type { RequestContext } from '../http/router';
import { newId, nowSeconds, randomToken } from '../ids';
import type { StripeObject } from '../store';
import { mergeMetadata } from './common';
import { attachPaymentMethod, paymentMethodData, paymentMethodFromData, resolvePaymentMethod } from './payment-methods';
import { checkClientSecret, snapshot } from './payment-intents';

type SiStatus = 'requires_payment_method' | 'requires_confirmation' | 'requires_action' | 'processing' | 'succeeded' | 'canceled';
export const SI_TRANSITIONS: Record<'update' | 'confirm' | 'cancel' | 'complete_action', readonly SiStatus[]> = {
  update: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  confirm: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  cancel: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  complete_action: ['requires_action'],
};

function assertSiCan(si: StripeObject, action: keyof typeof SI_TRANSITIONS): void {
  if (SI_TRANSITIONS[action].includes(si.status)) return;
  throw unexpectedState(
    'setup_intent',
    `You cannot ${action === 'complete_action' ? 'complete the next action of' : action} this SetupIntent because it has a status of ${si.status}. Only a SetupIntent with one of the following statuses may be ${action === 'cancel' ? 'canceled' : action === 'confirm' ? 'confirmed' : 'used'}: ${SI_TRANSITIONS[action].join(', ')}.`,
    snapshot(si),
  );
}

const COMMON: Spec = {
  ...EXPAND,
  allowed_payment_method_types: f.arr(f.str()),
  excluded_payment_method_types: f.arr(f.str()),
  payment_method_types: f.any(),
  automatic_payment_methods: f.obj({ enabled: f.bool({ required: true }), allow_redirects: f.enum(['always', 'never']) }),
  customer: f.str(),
  customer_account: f.str(),
  description: f.str({ emptyOk: true }),
  flow_directions: f.arr(f.enum(['inbound', 'outbound'])),
  metadata: f.meta(),
  payment_method: f.str(),
  payment_method_configuration: f.str(),
  payment_method_data: paymentMethodData,
  payment_method_options: f.any(),
  attach_to_self: f.bool(),
};
const CREATE: Spec = {
  ...COMMON,
  confirm: f.bool(),
  confirmation_token: f.str(),
  mandate_data: f.any(),
  on_behalf_of: f.str(),
  return_url: f.str(),
  single_use: f.any(),
  usage: f.enum(['off_session', 'on_session']),
  use_stripe_sdk: f.bool(),
};
const CONFIRM: Spec = {
  ...EXPAND,
  client_secret: f.str(),
  allowed_payment_method_types: f.arr(f.str()),
  payment_method_types: f.any(),
  confirmation_token: f.str(),
  mandate_data: f.any(),
  payment_method: f.str(),
  payment_method_data: paymentMethodData,
  payment_method_options: f.any(),
  return_url: f.str(),
  use_stripe_sdk: f.bool(),
};

function reject(p: Record<string, unknown>): void {
  if ('payment_method_types' in p) {
    throw invalidRequest('The `payment_method_types` parameter is no longer supported in this API version. Use `allowed_payment_method_types` instead.', {
      param: 'payment_method_types',
      code: 'payment_method_types_no_longer_supported',
    });
  }
}

function succeed(emu: Emulator, si: StripeObject, pm: StripeObject, ctx: RequestContext | null): void {
  si.status = 'succeeded';
  si.next_action = null;
  si.last_setup_error = null;
  si.latest_attempt = newId('setatt');
  const internal = emu.store.pmInternal.get(pm.id);
  if (internal && si.usage === 'off_session') internal.setUpForOffSession = true;
  if (si.customer && !pm.customer) attachPaymentMethod(emu, pm, si.customer, ctx);
  emu.emit('setup_intent.succeeded', si, ctx);
}

export function confirmSetupIntent(emu: Emulator, si: StripeObject, p: Record<string, any>, ctx: RequestContext | null): StripeObject {
  reject(p);
  assertSiCan(si, 'confirm');
  let pm: StripeObject | undefined;
  if (p.payment_method) pm = resolvePaymentMethod(emu, p.payment_method);
  else if (p.payment_method_data) pm = paymentMethodFromData(emu, p.payment_method_data);
  else if (si.payment_method) pm = emu.get(emu.store.paymentMethods, 'PaymentMethod', si.payment_method, 'payment_method');
  if (!pm) throw unexpectedState('setup_intent', 'You cannot confirm this SetupIntent because it’s missing a payment method.', snapshot(si));
  if (pm.customer && si.customer && pm.customer !== si.customer) throw invalidRequest('The provided PaymentMethod belongs to a different Customer.', { param: 'payment_method' });
  si.payment_method = pm.id;
  const behavior = emu.store.pmInternal.get(pm.id)?.behavior ?? { kind: 'success' as const };
  if (behavior.kind === 'decline') {
    si.status = 'requires_payment_method';
    si.payment_method = null;
    si.last_setup_error = {
      code: behavior.code,
      decline_code: behavior.decline_code,
      doc_url: `https://stripe.com/docs/error-codes/${behavior.code.replace(/_/g, '-')}`,
      message: behavior.message,
      payment_method: snapshot(pm),
      type: 'card_error',
    };
    emu.emit('setup_intent.setup_failed', si, ctx);
    throw cardError(behavior.message, behavior.code, { decline_code: behavior.decline_code, setup_intent: snapshot(si), payment_method: snapshot(pm) });
  }
  if (behavior.kind === 'authentication_required') {
    const url = `${emu.config.baseUrl}/_emulator/3ds/${si.id}`;
    si.status = 'requires_action';
    si.next_action = p.return_url
      ? { type: 'redirect_to_url', redirect_to_url: { return_url: p.return_url, url } }
      : { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: url, source: newId('src') } };
    emu.emit('setup_intent.requires_action', si, ctx);
    return si;
  }
  succeed(emu, si, pm, ctx);
  return si;
}

export function completeSetupThreeDS(emu: Emulator, si: StripeObject, success: boolean): StripeObject {
  assertSiCan(si, 'complete_action');
  const pm = emu.get(emu.store.paymentMethods, 'PaymentMethod', si.payment_method, 'payment_method');
  if (success) succeed(emu, si, pm, null);
  else {
    si.status = 'requires_payment_method';
    si.payment_method = null;
    si.next_action = null;
    si.last_setup_error = {
      code: 'setup_intent_authentication_failure',
      doc_url: 'https://stripe.com/docs/error-codes/setup-intent-authentication-failure',
      message: 'The latest attempt to set up the payment method has failed because authentication failed.',
      payment_method: snapshot(pm),
      type: 'invalid_request_error',
    };
    emu.emit('setup_intent.setup_failed', si, null);
  }
  return si;
}

export function register(emu: Emulator): void {
  const { store } = emu;
  const getSi = (id: string) => emu.get(store.setupIntents, 'setup_intent', id, 'intent');

  emu.route({
    method: 'POST',
    path: '/v1/setup_intents',
    spec: CREATE,
    handler: (ctx) => {
      const p = ctx.params;
      reject(p);
      if (p.customer) emu.get(store.customers, 'customer', p.customer, 'customer');
      const types = p.allowed_payment_method_types ?? ['card'];
      const id = newId('seti');
      const si: StripeObject = {
        id,
        object: 'setup_intent',
        allowed_payment_method_types: p.allowed_payment_method_types ?? null,
        application: null,
        automatic_payment_methods: p.allowed_payment_method_types ? null : (p.automatic_payment_methods ?? { enabled: true, allow_redirects: 'always' }),
        cancellation_reason: null,
        client_secret: `${id}_secret_${randomToken(25)}`,
        created: nowSeconds(),
        customer: p.customer ?? null,
        customer_account: null,
        description: p.description || null,
        excluded_payment_method_types: null,
        flow_directions: p.flow_directions ?? null,
        last_setup_error: null,
        latest_attempt: null,
        livemode: false,
        mandate: null,
        metadata: p.metadata ?? {},
        next_action: null,
        on_behalf_of: p.on_behalf_of ?? null,
        payment_method: null,
        payment_method_configuration_details: null,
        payment_method_options: { card: { mandate_options: null, network: null, request_three_d_secure: 'automatic' } },
        payment_method_types: types,
        single_use_mandate: null,
        status: 'requires_payment_method',
        usage: p.usage ?? 'off_session',
      };
      if (p.payment_method || p.payment_method_data) {
        const pm = p.payment_method ? resolvePaymentMethod(emu, p.payment_method) : paymentMethodFromData(emu, p.payment_method_data);
        si.payment_method = pm.id;
        si.status = 'requires_confirmation';
      }
      store.setupIntents.insert(si);
      emu.emit('setup_intent.created', si, ctx);
      if (p.confirm) confirmSetupIntent(emu, si, { return_url: p.return_url }, ctx);
      return si;
    },
  });

  emu.route({
    method: 'GET',
    path: '/v1/setup_intents/:id',
    spec: { ...EXPAND, client_secret: f.str() },
    publishable: true,
    handler: (ctx) => {
      const si = getSi(ctx.pathParams.id!);
      checkClientSecret(ctx, si, 'SetupIntent');
      return si;
    },
  });

  emu.route({
    method: 'POST',
    path: '/v1/setup_intents/:id',
    spec: COMMON,
    handler: (ctx) => {
      const p = ctx.params;
      reject(p);
      const si = getSi(ctx.pathParams.id!);
      assertSiCan(si, 'update');
      if (p.customer) {
        emu.get(store.customers, 'customer', p.customer, 'customer');
        si.customer = p.customer;
      }
      if (p.description !== undefined) si.description = p.description || null;
      if (p.metadata) si.metadata = mergeMetadata(si.metadata, p.metadata);
      if (p.payment_method) {
        si.payment_method = resolvePaymentMethod(emu, p.payment_method).id;
        si.status = 'requires_confirmation';
      }
      return si;
    },
  });

  emu.route({
    method: 'POST',
    path: '/v1/setup_intents/:id/confirm',
    spec: CONFIRM,
    publishable: true,
    handler: (ctx) => {
      const si = getSi(ctx.pathParams.id!);
      checkClientSecret(ctx, si, 'SetupIntent');
      return confirmSetupIntent(emu, si, ctx.params, ctx);
    },
  });

  emu.route({
    method: 'POST',
    path: '/v1/setup_intents/:id/cancel',
    spec: { ...EXPAND, cancellation_reason: f.enum(['abandoned', 'duplicate', 'requested_by_customer']) },
    handler: (ctx) => {
      const si = getSi(ctx.pathParams.id!);
      assertSiCan(si, 'cancel');
      si.status = 'canceled';
      si.cancellation_reason = ctx.params.cancellation_reason ?? null;
      si.next_action = null;
      emu.emit('setup_intent.canceled', si, ctx);
      return si;
    },
  });

  emu.route({
    method: 'GET',
    path: '/v1/setup_intents',
    spec: { ...LIST, customer: f.str(), payment_method: f.str(), attach_to_self: f.bool() },
    handler: (ctx) => {
      const { customer, payment_method } = ctx.params;
      return emu.list(store.setupIntents, '/v1/setup_intents', ctx.params, customer || payment_method ? (s) => (!customer || s.customer === customer) && (!payment_method || s.payment_method === payment_method) : undefined);
    },
  });
}
