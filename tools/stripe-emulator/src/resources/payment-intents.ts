/**
 * PaymentIntents: create / retrieve / update / confirm / capture / cancel / list, with the status machine as
 * an explicit transition table, test-card outcomes (success, declines, 3-D Secure, disputes), charges,
 * balance transactions and the events Stripe emits for each step.
 */
import type { Emulator } from '../app';
import { cardError, invalidRequest, StripeApiError, unexpectedState } from '../http/errors';
import { f, EXPAND, LIST, Spec } from '../http/params';
import type { RequestContext } from '../http/router';
import { newId, nowSeconds, randomToken } from '../ids';
import type { StripeObject } from '../store';
import { chargeBalanceTransaction } from './balance';
import { newCharge } from './charges';
import { scheduleDispute } from './disputes';
import { checkAmount, checkCurrency, mergeMetadata } from './common';
import { attachPaymentMethod, createCardPaymentMethod, paymentMethodData, paymentMethodFromData, resolvePaymentMethod } from './payment-methods';
import { cardForNumber } from './cards';

export type PiStatus =
  | 'requires_payment_method'
  | 'requires_confirmation'
  | 'requires_action'
  | 'processing'
  | 'requires_capture'
  | 'succeeded'
  | 'canceled';

type PiAction = 'update' | 'confirm' | 'capture' | 'cancel' | 'complete_action' | 'process_on_reader';

/** Which statuses each action may start from (the rest answer 400 payment_intent_unexpected_state). */
export const PI_TRANSITIONS: Record<PiAction, readonly PiStatus[]> = {
  update: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  confirm: ['requires_payment_method', 'requires_confirmation', 'requires_action'],
  capture: ['requires_capture'],
  cancel: ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action', 'processing'],
  complete_action: ['requires_action'],
  process_on_reader: ['requires_payment_method', 'requires_confirmation'],
};

const VERB: Record<PiAction, string> = {
  update: 'update',
  confirm: 'confirm',
  capture: 'capture',
  cancel: 'cancel',
  complete_action: 'complete the next action of',
  process_on_reader: 'process',
};

export function assertPiCan(pi: StripeObject, action: PiAction): void {
  const allowed = PI_TRANSITIONS[action];
  if (allowed.includes(pi.status)) return;
  let message = `You cannot ${VERB[action]} this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be ${action === 'capture' ? 'captured' : action === 'cancel' ? 'canceled' : action === 'confirm' ? 'confirmed' : action === 'update' ? 'updated' : 'used'}: ${allowed.join(', ')}.`;
  if (action === 'capture') {
    message = `This PaymentIntent could not be captured because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`;
  } else if (action === 'confirm' && pi.status === 'succeeded') {
    message = 'You cannot confirm this PaymentIntent because it has already succeeded after being previously confirmed.';
  }
  throw unexpectedState('payment_intent', message, snapshot(pi));
}

export const snapshot = (o: StripeObject) => JSON.parse(JSON.stringify(o)) as StripeObject;

const SUPPORTED_TYPES = ['card', 'card_present', 'interac_present'];

const shipping = f.any();
const CREATE: Spec = {
  ...EXPAND,
  amount: f.int({ required: true }),
  currency: f.str({ required: true }),
  allowed_payment_method_types: f.arr(f.str()),
  excluded_payment_method_types: f.arr(f.str()),
  payment_method_types: f.any(),
  amount_details: f.any(),
  application_fee_amount: f.int(),
  automatic_payment_methods: f.obj({ enabled: f.bool({ required: true }), allow_redirects: f.enum(['always', 'never']) }),
  capture_method: f.enum(['automatic', 'automatic_async', 'manual']),
  confirm: f.bool(),
  confirmation_method: f.enum(['automatic', 'manual']),
  confirmation_token: f.str(),
  customer: f.str(),
  customer_account: f.str(),
  description: f.str({ emptyOk: true }),
  error_on_requires_action: f.bool(),
  hooks: f.any(),
  mandate: f.str(),
  mandate_data: f.any(),
  metadata: f.meta(),
  off_session: f.any(),
  on_behalf_of: f.str(),
  payment_details: f.any(),
  payment_method: f.str(),
  payment_method_configuration: f.str(),
  payment_method_data: paymentMethodData,
  payment_method_options: f.any(),
  radar_options: f.any(),
  receipt_email: f.str({ emptyOk: true }),
  return_url: f.str(),
  setup_future_usage: f.enum(['off_session', 'on_session']),
  shipping,
  statement_descriptor: f.str(),
  statement_descriptor_suffix: f.str(),
  transfer_data: f.any(),
  transfer_group: f.str(),
  use_stripe_sdk: f.bool(),
};

const UPDATE: Spec = {
  ...EXPAND,
  amount: f.int(),
  currency: f.str(),
  allowed_payment_method_types: f.arr(f.str()),
  excluded_payment_method_types: f.arr(f.str()),
  payment_method_types: f.any(),
  amount_details: f.any(),
  application_fee_amount: f.int(),
  capture_method: f.enum(['automatic', 'automatic_async', 'manual']),
  customer: f.str({ emptyOk: true }),
  customer_account: f.str(),
  description: f.str({ emptyOk: true }),
  hooks: f.any(),
  metadata: f.meta(),
  payment_details: f.any(),
  payment_method: f.str(),
  payment_method_configuration: f.str(),
  payment_method_data: paymentMethodData,
  payment_method_options: f.any(),
  receipt_email: f.str({ emptyOk: true }),
  setup_future_usage: f.str({ emptyOk: true }),
  shipping,
  statement_descriptor: f.str(),
  statement_descriptor_suffix: f.str(),
  transfer_data: f.any(),
  transfer_group: f.str(),
};

const CONFIRM: Spec = {
  ...EXPAND,
  client_secret: f.str(),
  allowed_payment_method_types: f.arr(f.str()),
  excluded_payment_method_types: f.arr(f.str()),
  payment_method_types: f.any(),
  amount_details: f.any(),
  amount_to_confirm: f.int(),
  capture_method: f.enum(['automatic', 'automatic_async', 'manual']),
  confirmation_token: f.str(),
  error_on_requires_action: f.bool(),
  hooks: f.any(),
  mandate: f.str(),
  mandate_data: f.any(),
  off_session: f.any(),
  payment_details: f.any(),
  payment_method: f.str(),
  payment_method_data: paymentMethodData,
  payment_method_options: f.any(),
  radar_options: f.any(),
  receipt_email: f.str({ emptyOk: true }),
  return_url: f.str(),
  setup_future_usage: f.str({ emptyOk: true }),
  shipping,
  use_stripe_sdk: f.bool(),
};

function rejectPaymentMethodTypes(p: Record<string, unknown>): void {
  if ('payment_method_types' in p) {
    throw invalidRequest(
      'The `payment_method_types` parameter is no longer supported in this API version (2026-09-30.endive and later). Use `allowed_payment_method_types` instead.',
      { param: 'payment_method_types', code: 'payment_method_types_no_longer_supported' },
    );
  }
}

function checkExclusive(p: Record<string, unknown>): void {
  const set = ['allowed_payment_method_types', 'excluded_payment_method_types', 'automatic_payment_methods', 'payment_method_configuration'].filter((k) => k in p);
  if (set.includes('allowed_payment_method_types') && set.length > 1) {
    throw invalidRequest(`You may only specify one of these parameters: ${set.join(', ')}.`, { param: set[1], code: 'parameters_exclusive' });
  }
}

function paymentMethodOptionsFor(types: string[], requested: any): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (types.includes('card')) out.card = { installments: null, mandate_options: null, network: null, request_three_d_secure: 'automatic', ...(requested?.card ?? {}) };
  if (types.includes('card_present')) {
    out.card_present = { request_extended_authorization: false, request_incremental_authorization_support: false, ...(requested?.card_present ?? {}) };
  }
  return out;
}

function isTruthy(v: unknown): boolean {
  return v === true || v === 'true' || v === 'one_off' || v === 'recurring';
}

export function checkClientSecret(ctx: RequestContext, obj: StripeObject, kind: 'PaymentIntent' | 'SetupIntent'): void {
  if (ctx.auth !== 'publishable') return;
  const given = ctx.params.client_secret as string | undefined;
  if (!given) {
    throw new StripeApiError(401, {
      type: 'invalid_request_error',
      message:
        'This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.',
    });
  }
  if (given !== obj.client_secret) {
    throw invalidRequest(`The client_secret provided does not match the client_secret associated with the ${kind}.`, {
      param: 'client_secret',
      code: kind === 'PaymentIntent' ? 'payment_intent_invalid_parameter' : 'setup_intent_invalid_parameter',
    });
  }
}

export function createPaymentIntent(emu: Emulator, p: Record<string, any>, ctx: RequestContext | null): StripeObject {
  rejectPaymentMethodTypes(p);
  checkExclusive(p);
  const currency = checkCurrency(p.currency);
  checkAmount(p.amount, currency);
  if (p.customer) emu.get(emu.store.customers, 'customer', p.customer, 'customer');
  if (p.confirmation_token) throw invalidRequest('confirmation_token is not supported by the emulator.', { param: 'confirmation_token' });
  let types: string[];
  let apm: unknown = null;
  if (p.allowed_payment_method_types) {
    types = (p.allowed_payment_method_types as string[]).filter((t) => SUPPORTED_TYPES.includes(t));
    if (types.length === 0) throw invalidRequest(`None of the allowed_payment_method_types are supported (supported: ${SUPPORTED_TYPES.join(', ')}).`, { param: 'allowed_payment_method_types' });
  } else {
    types = ['card'];
    apm = p.automatic_payment_methods ?? { enabled: true, allow_redirects: 'always' };
    if (p.automatic_payment_methods && !p.automatic_payment_methods.allow_redirects) (apm as any).allow_redirects = 'always';
  }
  const id = newId('pi');
  const pi: StripeObject = {
    id,
    object: 'payment_intent',
    allowed_payment_method_types: p.allowed_payment_method_types ?? null,
    amount: p.amount,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: 0,
    application: null,
    application_fee_amount: p.application_fee_amount ?? null,
    automatic_payment_methods: apm,
    canceled_at: null,
    cancellation_reason: null,
    capture_method: p.capture_method ?? 'automatic_async',
    client_secret: `${id}_secret_${randomToken(25)}`,
    confirmation_method: p.confirmation_method ?? 'automatic',
    created: nowSeconds(),
    currency,
    customer: p.customer ?? null,
    customer_account: null,
    description: p.description || null,
    excluded_payment_method_types: p.excluded_payment_method_types ?? null,
    last_payment_error: null,
    latest_charge: null,
    livemode: false,
    managed_payments: null,
    metadata: p.metadata ?? {},
    next_action: null,
    on_behalf_of: p.on_behalf_of ?? null,
    payment_method: null,
    payment_method_configuration_details: null,
    payment_method_options: paymentMethodOptionsFor(types, p.payment_method_options),
    payment_method_types: types,
    payment_record: null,
    processing: null,
    receipt_email: p.receipt_email || null,
    review: null,
    setup_future_usage: p.setup_future_usage ?? null,
    shipping: p.shipping ?? null,
    source: null,
    statement_descriptor: p.statement_descriptor ?? null,
    statement_descriptor_suffix: p.statement_descriptor_suffix ?? null,
    status: 'requires_payment_method',
    transfer_data: p.transfer_data ?? null,
    transfer_group: p.transfer_group ?? null,
  };
  if (p.payment_method || p.payment_method_data) {
    const pm = p.payment_method ? resolvePaymentMethod(emu, p.payment_method) : paymentMethodFromData(emu, p.payment_method_data);
    checkPmCompatible(pi, pm);
    pi.payment_method = pm.id;
    pi.status = 'requires_confirmation';
  }
  emu.store.paymentIntents.insert(pi);
  emu.store.piInternal.set(pi.id, {});
  emu.emit('payment_intent.created', pi, ctx);
  if (p.confirm) {
    confirmPaymentIntent(emu, pi, { ...p, payment_method: undefined, payment_method_data: undefined }, ctx);
  }
  return pi;
}

function checkPmCompatible(pi: StripeObject, pm: StripeObject): void {
  if (!pi.payment_method_types.includes(pm.type)) {
    throw invalidRequest(
      `The PaymentMethod provided (${pm.type}) is not allowed for this PaymentIntent. Allowed payment method types: ${pi.payment_method_types.join(', ')}.`,
      { param: 'payment_method', code: 'payment_intent_incompatible_payment_method' },
    );
  }
  if (pm.customer && pi.customer && pm.customer !== pi.customer) {
    throw invalidRequest('The provided PaymentMethod belongs to a different Customer. Use the Customer the PaymentMethod is attached to.', { param: 'payment_method' });
  }
  if (pm.customer && !pi.customer) {
    throw invalidRequest(
      'The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared with a connected account without Customer attachment, or was detached from a Customer. It may not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.',
      { param: 'payment_method' },
    );
  }
}

/** Confirm: resolves the payment method, then authorises, fails (402) or asks for 3-D Secure. */
export function confirmPaymentIntent(emu: Emulator, pi: StripeObject, p: Record<string, any>, ctx: RequestContext | null): StripeObject {
  rejectPaymentMethodTypes(p);
  assertPiCan(pi, 'confirm');
  const internal = emu.store.piInternal.get(pi.id) ?? {};
  let pm: StripeObject | undefined;
  if (p.payment_method) pm = resolvePaymentMethod(emu, p.payment_method);
  else if (p.payment_method_data) pm = paymentMethodFromData(emu, p.payment_method_data);
  else if (pi.payment_method) pm = emu.get(emu.store.paymentMethods, 'PaymentMethod', pi.payment_method, 'payment_method');
  if (!pm) {
    throw unexpectedState(
      'payment_intent',
      'You cannot confirm this PaymentIntent because it’s missing a payment method. You can either update the PaymentIntent with a payment method and then confirm it again, or confirm it again directly with a payment method.',
      snapshot(pi),
    );
  }
  checkPmCompatible(pi, pm);
  if (pi.payment_method !== pm.id) internal.authenticated = false;
  pi.payment_method = pm.id;
  if (p.receipt_email !== undefined) pi.receipt_email = p.receipt_email || null;
  if (p.setup_future_usage !== undefined) pi.setup_future_usage = p.setup_future_usage || null;
  if (p.shipping !== undefined) pi.shipping = p.shipping;
  if (p.capture_method) pi.capture_method = p.capture_method;
  if (p.payment_method_options) pi.payment_method_options = paymentMethodOptionsFor(pi.payment_method_types, p.payment_method_options);
  internal.offSession = isTruthy(p.off_session);
  emu.store.piInternal.set(pi.id, internal);
  pi.last_payment_error = null;

  const behavior = emu.store.pmInternal.get(pm.id)?.behavior ?? { kind: 'success' as const };
  if (behavior.kind === 'decline') {
    throw failAttempt(emu, pi, pm, { code: behavior.code, decline_code: behavior.decline_code, message: behavior.message }, ctx, true);
  }
  if (behavior.kind === 'authentication_required' && !internal.authenticated) {
    const setUp = behavior.unlessSetUp && emu.store.pmInternal.get(pm.id)?.setUpForOffSession;
    if (!setUp) {
      if (internal.offSession || p.error_on_requires_action) {
        throw failAttempt(
          emu,
          pi,
          pm,
          { code: 'authentication_required', decline_code: 'authentication_required', message: 'Your card was declined. This transaction requires authentication.' },
          ctx,
          true,
        );
      }
      requireAction(emu, pi, p.return_url, ctx);
      return pi;
    }
  }
  authorize(emu, pi, pm, ctx, !!internal.authenticated);
  return pi;
}

function requireAction(emu: Emulator, pi: StripeObject, returnUrl: string | undefined, ctx: RequestContext | null): void {
  const url = `${emu.config.baseUrl}/_emulator/3ds/${pi.id}`;
  pi.status = 'requires_action';
  pi.next_action = returnUrl
    ? { type: 'redirect_to_url', redirect_to_url: { return_url: returnUrl, url } }
    : { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: url, source: newId('src') } };
  emu.emit('payment_intent.requires_action', pi, ctx);
}

/** Decline: failed charge, PI back to requires_payment_method, events; returns the 402 to throw (or record). */
export function failAttempt(
  emu: Emulator,
  pi: StripeObject,
  pm: StripeObject,
  d: { code: string; decline_code: string; message: string },
  ctx: RequestContext | null,
  _throwing: boolean,
): StripeApiError {
  const ch = newCharge(emu, pi, pm, { ok: false, ...d }, false);
  emu.emit('charge.failed', ch, ctx);
  pi.status = 'requires_payment_method';
  pi.latest_charge = ch.id;
  pi.payment_method = null;
  pi.next_action = null;
  pi.last_payment_error = {
    advice_code: null,
    charge: ch.id,
    code: d.code,
    decline_code: d.decline_code,
    doc_url: `https://stripe.com/docs/error-codes/${d.code.replace(/_/g, '-')}`,
    message: d.message,
    network_decline_code: null,
    payment_method: snapshot(pm),
    type: 'card_error',
  };
  emu.emit('payment_intent.payment_failed', pi, ctx);
  return cardError(d.message, d.code, { decline_code: d.decline_code, charge: ch.id, payment_intent: snapshot(pi), payment_method: snapshot(pm) });
}

/** Successful authorisation: charge, balance transaction per capture_method, PI status, events. */
export function authorize(emu: Emulator, pi: StripeObject, pm: StripeObject, ctx: RequestContext | null, threeDS: boolean): StripeObject {
  const manual = pi.capture_method === 'manual';
  const ch = newCharge(emu, pi, pm, { ok: true, capture: !manual }, threeDS);
  pi.latest_charge = ch.id;
  pi.next_action = null;
  pi.last_payment_error = null;
  if (pi.setup_future_usage && pi.customer) {
    if (pm.type === 'card_present') {
      const generated = createCardPaymentMethod(emu, cardForNumber(`424242424242${pm.card_present.last4}`.slice(-16)), { type: 'card' });
      generated.card.generated_from = { charge: ch.id, payment_method_details: ch.payment_method_details, setup_attempt: null };
      ch.payment_method_details.card_present.generated_card = generated.id;
      attachPaymentMethod(emu, generated, pi.customer, ctx);
    } else if (!pm.customer) attachPaymentMethod(emu, pm, pi.customer, ctx);
  }
  if (manual) {
    pi.status = 'requires_capture';
    pi.amount_capturable = pi.amount;
    emu.emit('charge.succeeded', ch, ctx);
    emu.emit('payment_intent.amount_capturable_updated', pi, ctx, { amount_capturable: 0, status: 'requires_confirmation' });
  } else {
    ch.captured = true;
    ch.amount_captured = pi.amount;
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    if (pi.capture_method === 'automatic') ch.balance_transaction = chargeBalanceTransaction(emu, ch, ch.amount_captured).id;
    else scheduleAsyncBalance(emu, ch.id);
    emu.emit('charge.succeeded', ch, ctx);
    emu.emit('payment_intent.succeeded', pi, ctx);
  }
  if (emu.store.pmInternal.get(pm.id)?.behavior.kind === 'success' && (emu.store.pmInternal.get(pm.id)!.behavior as { dispute?: boolean }).dispute && !manual) {
    scheduleDispute(emu, ch.id);
  }
  return ch;
}

/** automatic_async: the balance transaction appears shortly after, announced by `charge.updated`. */
function scheduleAsyncBalance(emu: Emulator, chargeId: string): void {
  emu.later(emu.config.asyncCaptureDelayMs, () => {
    const ch = emu.store.charges.get(chargeId);
    if (!ch || ch.balance_transaction) return;
    ch.balance_transaction = chargeBalanceTransaction(emu, ch, ch.amount_captured).id;
    emu.emit('charge.updated', ch, null, { balance_transaction: null });
  });
}

export function capturePaymentIntent(emu: Emulator, pi: StripeObject, p: Record<string, any>, ctx: RequestContext | null): StripeObject {
  assertPiCan(pi, 'capture');
  const amount = p.amount_to_capture ?? pi.amount_capturable;
  if (amount > pi.amount_capturable) {
    throw invalidRequest(
      `The amount to capture (${amount}) must be less than or equal to the amount capturable on this PaymentIntent (${pi.amount_capturable}).`,
      { param: 'amount_to_capture', code: 'amount_too_large' },
    );
  }
  if (amount < 1) throw invalidRequest('amount_to_capture must be at least 1.', { param: 'amount_to_capture', code: 'parameter_invalid_integer' });
  const ch = emu.get(emu.store.charges, 'charge', pi.latest_charge);
  const prevCapturable = pi.amount_capturable;
  ch.captured = true;
  ch.amount_captured = amount;
  ch.balance_transaction = chargeBalanceTransaction(emu, ch, amount).id;
  if (p.metadata) pi.metadata = mergeMetadata(pi.metadata, p.metadata);
  if (p.application_fee_amount !== undefined) pi.application_fee_amount = p.application_fee_amount;
  if (p.statement_descriptor) pi.statement_descriptor = p.statement_descriptor;
  if (p.statement_descriptor_suffix) pi.statement_descriptor_suffix = p.statement_descriptor_suffix;
  pi.status = 'succeeded';
  pi.amount_capturable = 0;
  pi.amount_received = amount;
  emu.emit('charge.captured', ch, ctx, { amount_captured: 0, captured: false, balance_transaction: null });
  emu.emit('payment_intent.succeeded', pi, ctx, { amount_capturable: prevCapturable, amount_received: 0, status: 'requires_capture' });
  const behavior = pi.payment_method ? emu.store.pmInternal.get(pi.payment_method)?.behavior : undefined;
  if (behavior?.kind === 'success' && behavior.dispute) scheduleDispute(emu, ch.id);
  return pi;
}

export function cancelPaymentIntent(emu: Emulator, pi: StripeObject, reason: string | undefined, ctx: RequestContext | null): StripeObject {
  assertPiCan(pi, 'cancel');
  const prevStatus = pi.status;
  // The authorisation is released. Since API version 2025-03-31.basil (the emulator speaks 2026-10-28.endive) that
  // creates no Refund: the uncaptured charge keeps `refunded: false` and `amount_refunded: 0`, its `amount_captured`
  // is 0, and no `charge.refunded` is sent (Stripe changelog, "Partially capturing or cancelling payments no longer
  // creates a Refund").
  if (pi.status === 'requires_capture' && pi.latest_charge) {
    const ch = emu.store.charges.get(pi.latest_charge);
    if (ch) ch.amount_captured = 0;
  }
  pi.status = 'canceled';
  pi.canceled_at = nowSeconds();
  pi.cancellation_reason = reason ?? null;
  pi.amount_capturable = 0;
  pi.next_action = null;
  emu.emit('payment_intent.canceled', pi, ctx, { status: prevStatus });
  return pi;
}

/** Admin: finish a 3-D Secure challenge. */
export function completeThreeDS(emu: Emulator, pi: StripeObject, success: boolean): StripeObject {
  assertPiCan(pi, 'complete_action');
  const pm = emu.get(emu.store.paymentMethods, 'PaymentMethod', pi.payment_method, 'payment_method');
  if (success) {
    const internal = emu.store.piInternal.get(pi.id) ?? {};
    internal.authenticated = true;
    emu.store.piInternal.set(pi.id, internal);
    authorize(emu, pi, pm, null, true);
  } else {
    pi.status = 'requires_payment_method';
    pi.payment_method = null;
    pi.next_action = null;
    pi.last_payment_error = {
      code: 'payment_intent_authentication_failure',
      doc_url: 'https://stripe.com/docs/error-codes/payment-intent-authentication-failure',
      message:
        'The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.',
      payment_method: snapshot(pm),
      type: 'invalid_request_error',
    };
    emu.emit('payment_intent.payment_failed', pi, null);
  }
  return pi;
}

export function register(emu: Emulator): void {
  const { store } = emu;
  const getPi = (id: string) => emu.get(store.paymentIntents, 'payment_intent', id, 'intent');

  emu.route({ method: 'POST', path: '/v1/payment_intents', spec: CREATE, handler: (ctx) => createPaymentIntent(emu, ctx.params, ctx) });

  emu.route({
    method: 'GET',
    path: '/v1/payment_intents/:id',
    spec: { ...EXPAND, client_secret: f.str() },
    publishable: true,
    handler: (ctx) => {
      const pi = getPi(ctx.pathParams.id!);
      checkClientSecret(ctx, pi, 'PaymentIntent');
      return pi;
    },
  });

  emu.route({
    method: 'POST',
    path: '/v1/payment_intents/:id',
    spec: UPDATE,
    handler: (ctx) => {
      const p = ctx.params;
      const pi = getPi(ctx.pathParams.id!);
      rejectPaymentMethodTypes(p);
      checkExclusive(p);
      const onlyMeta = Object.keys(p).every((k) => k === 'metadata' || k === 'expand' || k === 'description');
      if (!onlyMeta) assertPiCan(pi, 'update');
      if (p.currency) pi.currency = checkCurrency(p.currency);
      if (p.amount !== undefined) {
        checkAmount(p.amount, pi.currency);
        pi.amount = p.amount;
      }
      if (p.customer !== undefined) {
        if (p.customer) emu.get(store.customers, 'customer', p.customer, 'customer');
        pi.customer = p.customer || null;
      }
      if (p.allowed_payment_method_types) {
        const types = (p.allowed_payment_method_types as string[]).filter((t) => SUPPORTED_TYPES.includes(t));
        pi.allowed_payment_method_types = p.allowed_payment_method_types;
        pi.payment_method_types = types;
        pi.automatic_payment_methods = null;
        pi.payment_method_options = paymentMethodOptionsFor(types, p.payment_method_options);
      } else if (p.payment_method_options) pi.payment_method_options = paymentMethodOptionsFor(pi.payment_method_types, p.payment_method_options);
      for (const k of ['description', 'receipt_email', 'setup_future_usage'] as const) if (p[k] !== undefined) pi[k] = p[k] || null;
      for (const k of ['capture_method', 'shipping', 'statement_descriptor', 'statement_descriptor_suffix', 'transfer_group', 'application_fee_amount'] as const) {
        if (p[k] !== undefined) pi[k] = p[k];
      }
      if (p.metadata) pi.metadata = mergeMetadata(pi.metadata, p.metadata);
      if (p.payment_method || p.payment_method_data) {
        const pm = p.payment_method ? resolvePaymentMethod(emu, p.payment_method) : paymentMethodFromData(emu, p.payment_method_data);
        checkPmCompatible(pi, pm);
        pi.payment_method = pm.id;
        pi.status = 'requires_confirmation';
        pi.next_action = null;
      }
      return pi;
    },
  });

  emu.route({
    method: 'POST',
    path: '/v1/payment_intents/:id/confirm',
    spec: CONFIRM,
    publishable: true,
    handler: (ctx) => {
      const pi = getPi(ctx.pathParams.id!);
      checkClientSecret(ctx, pi, 'PaymentIntent');
      return confirmPaymentIntent(emu, pi, ctx.params, ctx);
    },
  });

  emu.route({
    method: 'POST',
    path: '/v1/payment_intents/:id/capture',
    spec: {
      ...EXPAND,
      amount_to_capture: f.int(),
      amount_details: f.any(),
      application_fee_amount: f.int(),
      final_capture: f.bool(),
      hooks: f.any(),
      metadata: f.meta(),
      payment_details: f.any(),
      statement_descriptor: f.str(),
      statement_descriptor_suffix: f.str(),
      transfer_data: f.any(),
    },
    handler: (ctx) => capturePaymentIntent(emu, getPi(ctx.pathParams.id!), ctx.params, ctx),
  });

  emu.route({
    method: 'POST',
    path: '/v1/payment_intents/:id/cancel',
    spec: { ...EXPAND, cancellation_reason: f.enum(['abandoned', 'duplicate', 'fraudulent', 'requested_by_customer']) },
    handler: (ctx) => cancelPaymentIntent(emu, getPi(ctx.pathParams.id!), ctx.params.cancellation_reason, ctx),
  });

  emu.route({
    method: 'GET',
    path: '/v1/payment_intents',
    spec: { ...LIST, customer: f.str(), customer_account: f.str() },
    handler: (ctx) => {
      const customer = ctx.params.customer as string | undefined;
      return emu.list(store.paymentIntents, '/v1/payment_intents', ctx.params, customer ? (pi) => pi.customer === customer : undefined);
    },
  });
}
