/**
 * Stripe Terminal: locations, connection tokens, (simulated) readers, server-driven actions and the
 * `present_payment_method` test helper. Reader actions follow READER_ACTION_TRANSITIONS.
 */
import type { Emulator } from '../app';
import { invalidRequest, StripeApiError } from '../http/errors';
import { f, EXPAND, LIST } from '../http/params';
import type { RequestContext } from '../http/router';
import { newId, nowSeconds, randomToken } from '../ids';
import type { StripeObject } from '../store';
import { cardForNumber } from './cards';
import { mergeMetadata } from './common';
import { createCardPaymentMethod } from './payment-methods';
import { assertPiCan, authorize, failAttempt } from './payment-intents';

type ActionStatus = 'in_progress' | 'succeeded' | 'failed';
/** Reader action status machine: which statuses each transition starts from. */
export const READER_ACTION_TRANSITIONS: Record<'succeed' | 'fail' | 'cancel', readonly ActionStatus[]> = {
  succeed: ['in_progress'],
  fail: ['in_progress'],
  cancel: ['in_progress'],
};

const DEVICE_TYPES: Record<string, string> = {
  'simulated-wpe': 'simulated_wisepos_e',
  'simulated-s700': 'simulated_stripe_s700',
  'simulated-s710': 'simulated_stripe_s710',
};

const address = f.obj(
  { city: f.str(), country: f.str({ required: true }), line1: f.str(), line2: f.str(), postal_code: f.str(), state: f.str() },
  { required: true },
);

function busy(reader: StripeObject): StripeApiError {
  return new StripeApiError(409, {
    type: 'invalid_request_error',
    code: 'terminal_reader_busy',
    message: `Reader ${reader.id} is currently busy processing another request. Cancel the current action with cancel_action or wait for it to finish.`,
    doc_url: 'https://stripe.com/docs/error-codes/terminal-reader-busy',
  });
}

function assertReady(reader: StripeObject): void {
  if (reader.status !== 'online') {
    throw invalidRequest(`Reader ${reader.id} is offline.`, { code: 'terminal_reader_offline', param: 'reader' });
  }
  if (reader.action?.status === 'in_progress') throw busy(reader);
}

function finishAction(emu: Emulator, reader: StripeObject, to: 'succeeded' | 'failed', failure: { code: string; message: string; api_error?: unknown } | null, ctx: RequestContext | null) {
  const action = reader.action;
  if (!action || !READER_ACTION_TRANSITIONS[to === 'succeeded' ? 'succeed' : 'fail'].includes(action.status)) return;
  action.status = to;
  action.failure_code = failure?.code ?? null;
  action.failure_message = failure?.message ?? null;
  if (failure?.api_error) action.api_error = failure.api_error;
  emu.emit(to === 'succeeded' ? 'terminal.reader.action_succeeded' : 'terminal.reader.action_failed', reader, ctx);
}

export function register(emu: Emulator): void {
  const { store } = emu;
  const getReader = (id: string) => emu.get(store.readers, 'terminal.reader', id);

  // ---- locations
  emu.route({
    method: 'POST',
    path: '/v1/terminal/locations',
    spec: { ...EXPAND, display_name: f.req(), address, metadata: f.meta(), configuration_overrides: f.str(), phone: f.str(), display_name_kana: f.str(), display_name_kanji: f.str(), address_kana: f.any(), address_kanji: f.any() },
    handler: (ctx) => {
      const p = ctx.params;
      const loc: StripeObject = {
        id: newId('tml', 14),
        object: 'terminal.location',
        address: { city: null, line1: null, line2: null, postal_code: null, state: null, ...p.address },
        configuration_overrides: p.configuration_overrides ?? undefined,
        display_name: p.display_name,
        livemode: false,
        metadata: p.metadata ?? {},
        phone: p.phone ?? null,
      };
      if (loc.configuration_overrides === undefined) delete loc.configuration_overrides;
      store.locations.insert(loc);
      return loc;
    },
  });
  emu.route({ method: 'GET', path: '/v1/terminal/locations/:id', spec: EXPAND, handler: (ctx) => emu.get(store.locations, 'terminal.location', ctx.pathParams.id!) });
  emu.route({
    method: 'POST',
    path: '/v1/terminal/locations/:id',
    spec: { ...EXPAND, display_name: f.str(), address: f.any(), metadata: f.meta(), configuration_overrides: f.str({ emptyOk: true }), phone: f.str({ emptyOk: true }) },
    handler: (ctx) => {
      const loc = emu.get(store.locations, 'terminal.location', ctx.pathParams.id!);
      const p = ctx.params;
      if (p.display_name) loc.display_name = p.display_name;
      if (p.address) loc.address = { ...loc.address, ...p.address };
      if (p.metadata) loc.metadata = mergeMetadata(loc.metadata, p.metadata);
      if (p.phone !== undefined) loc.phone = p.phone || null;
      if (p.configuration_overrides !== undefined) loc.configuration_overrides = p.configuration_overrides || undefined;
      return loc;
    },
  });
  emu.route({
    method: 'DELETE',
    path: '/v1/terminal/locations/:id',
    spec: {},
    handler: (ctx) => {
      const loc = emu.get(store.locations, 'terminal.location', ctx.pathParams.id!);
      store.locations.delete(loc.id);
      return { id: loc.id, object: 'terminal.location', deleted: true };
    },
  });
  emu.route({ method: 'GET', path: '/v1/terminal/locations', spec: LIST, handler: (ctx) => emu.list(store.locations, '/v1/terminal/locations', ctx.params) });

  // ---- connection tokens
  emu.route({
    method: 'POST',
    path: '/v1/terminal/connection_tokens',
    spec: { ...EXPAND, location: f.str() },
    handler: (ctx) => {
      const location = ctx.params.location as string | undefined;
      if (location) emu.get(store.locations, 'terminal.location', location, 'location');
      const token: Record<string, unknown> = { object: 'terminal.connection_token', secret: `pst_test_${randomToken(40)}` };
      if (location) token.location = location;
      return token;
    },
  });

  // ---- readers
  emu.route({
    method: 'POST',
    path: '/v1/terminal/readers',
    spec: { ...EXPAND, registration_code: f.req(), label: f.str(), location: f.str(), metadata: f.meta() },
    handler: (ctx) => {
      const p = ctx.params;
      const deviceType = DEVICE_TYPES[p.registration_code];
      if (!deviceType) {
        throw invalidRequest(`The registration code "${p.registration_code}" is invalid. Simulated readers use simulated-wpe, simulated-s700 or simulated-s710.`, {
          param: 'registration_code',
          code: 'terminal_reader_invalid_registration_code',
        });
      }
      if (p.location) emu.get(store.locations, 'terminal.location', p.location, 'location');
      const serial = `${p.registration_code}-${randomToken(3).toLowerCase()}-${randomToken(3).toLowerCase()}-${randomToken(2).toLowerCase()}-${randomToken(3).toLowerCase()}`;
      const reader: StripeObject = {
        id: newId('tmr', 14),
        object: 'terminal.reader',
        action: null,
        device_sw_version: '2.37.2.0',
        device_type: deviceType,
        ip_address: '0.0.0.0',
        label: p.label ?? serial,
        last_seen_at: Date.now(),
        livemode: false,
        location: p.location ?? null,
        metadata: p.metadata ?? {},
        serial_number: serial,
        status: 'online',
      };
      store.readers.insert(reader);
      return reader;
    },
  });
  emu.route({ method: 'GET', path: '/v1/terminal/readers/:id', spec: EXPAND, handler: (ctx) => getReader(ctx.pathParams.id!) });
  emu.route({
    method: 'POST',
    path: '/v1/terminal/readers/:id',
    spec: { ...EXPAND, label: f.str({ emptyOk: true }), metadata: f.meta() },
    handler: (ctx) => {
      const r = getReader(ctx.pathParams.id!);
      if (ctx.params.label !== undefined) r.label = ctx.params.label || r.serial_number;
      if (ctx.params.metadata) r.metadata = mergeMetadata(r.metadata, ctx.params.metadata);
      return r;
    },
  });
  emu.route({
    method: 'DELETE',
    path: '/v1/terminal/readers/:id',
    spec: {},
    handler: (ctx) => {
      const r = getReader(ctx.pathParams.id!);
      store.readers.delete(r.id);
      return { id: r.id, object: 'terminal.reader', deleted: true };
    },
  });
  emu.route({
    method: 'GET',
    path: '/v1/terminal/readers',
    spec: { ...LIST, location: f.str(), device_type: f.str(), serial_number: f.str(), status: f.enum(['offline', 'online']) },
    handler: (ctx) => {
      const { location, device_type, serial_number, status } = ctx.params;
      return emu.list(
        store.readers,
        '/v1/terminal/readers',
        ctx.params,
        (r) => (!location || r.location === location) && (!device_type || r.device_type === device_type) && (!serial_number || r.serial_number === serial_number) && (!status || r.status === status),
      );
    },
  });

  // ---- server-driven actions
  emu.route({
    method: 'POST',
    path: '/v1/terminal/readers/:id/process_payment_intent',
    spec: {
      ...EXPAND,
      payment_intent: f.req(),
      process_config: f.obj({
        allow_redisplay: f.enum(['always', 'limited', 'unspecified']),
        enable_customer_cancellation: f.bool(),
        return_url: f.str(),
        skip_tipping: f.bool(),
        tipping: f.obj({ amount_eligible: f.int() }),
      }),
    },
    handler: (ctx) => {
      const reader = getReader(ctx.pathParams.id!);
      const pi = emu.get(store.paymentIntents, 'payment_intent', ctx.params.payment_intent, 'payment_intent');
      assertReady(reader);
      if (!pi.payment_method_types.includes('card_present') && !pi.payment_method_types.includes('interac_present')) {
        throw invalidRequest(
          `PaymentIntent ${pi.id} does not allow card_present. Create it with allowed_payment_method_types: ['card_present'].`,
          { param: 'payment_intent', code: 'payment_intent_incompatible_payment_method' },
        );
      }
      assertPiCan(pi, 'process_on_reader');
      reader.action = {
        failure_code: null,
        failure_message: null,
        process_payment_intent: { payment_intent: pi.id, ...(ctx.params.process_config ? { process_config: ctx.params.process_config } : {}) },
        status: 'in_progress',
        type: 'process_payment_intent',
      };
      reader.last_seen_at = Date.now();
      const internal = store.piInternal.get(pi.id) ?? {};
      internal.reader = reader.id;
      store.piInternal.set(pi.id, internal);
      return reader;
    },
  });

  emu.route({
    method: 'POST',
    path: '/v1/terminal/readers/:id/set_reader_display',
    spec: {
      ...EXPAND,
      type: f.enum(['cart'], { required: true }),
      cart: f.obj({
        currency: f.str({ required: true }),
        line_items: f.arr(f.obj({ amount: f.int({ required: true }), description: f.str({ required: true }), quantity: f.int({ required: true }) }), { required: true }),
        tax: f.int(),
        total: f.int({ required: true }),
      }),
    },
    handler: (ctx) => {
      const reader = getReader(ctx.pathParams.id!);
      assertReady(reader);
      reader.action = {
        failure_code: null,
        failure_message: null,
        set_reader_display: { cart: ctx.params.cart ? { tax: null, ...ctx.params.cart } : null, type: 'cart' },
        status: 'in_progress',
        type: 'set_reader_display',
      };
      // the simulated reader shows the cart at once
      finishAction(emu, reader, 'succeeded', null, ctx);
      return reader;
    },
  });

  emu.route({
    method: 'POST',
    path: '/v1/terminal/readers/:id/cancel_action',
    spec: EXPAND,
    handler: (ctx) => {
      const reader = getReader(ctx.pathParams.id!);
      if (!reader.action || !READER_ACTION_TRANSITIONS.cancel.includes(reader.action.status)) {
        throw invalidRequest(`Reader ${reader.id} has no in-progress action to cancel.`, { param: 'reader', code: 'terminal_reader_invalid_action' });
      }
      finishAction(emu, reader, 'failed', { code: 'canceled', message: 'The action was canceled by the integration (cancel_action).' }, ctx);
      return reader;
    },
  });

  // ---- test helper
  emu.route({
    method: 'POST',
    path: '/v1/test_helpers/terminal/readers/:id/present_payment_method',
    spec: {
      ...EXPAND,
      amount_tip: f.int(),
      type: f.enum(['card_present', 'interac_present', 'card']),
      card_present: f.obj({ number: f.str() }),
      interac_present: f.obj({ number: f.str() }),
      card: f.obj({ number: f.str({ required: true }), exp_month: f.int(), exp_year: f.int(), cvc: f.str() }),
    },
    handler: (ctx) => {
      const reader = getReader(ctx.pathParams.id!);
      const action = reader.action;
      if (!action || action.status !== 'in_progress' || action.type !== 'process_payment_intent') {
        throw invalidRequest(`Reader ${reader.id} is not waiting for a payment method (call process_payment_intent first).`, {
          param: 'reader',
          code: 'terminal_reader_invalid_action',
        });
      }
      const p = ctx.params;
      const number: string = p.card_present?.number ?? p.interac_present?.number ?? p.card?.number ?? '4242424242424242';
      const card = cardForNumber(number);
      if (card.behavior.kind === 'timeout') return reader; // the reader never answers
      const pi = emu.get(store.paymentIntents, 'payment_intent', action.process_payment_intent.payment_intent, 'payment_intent');
      const pm = createCardPaymentMethod(emu, card, { type: 'card_present' });
      if (card.behavior.kind === 'decline') {
        const err = failAttempt(emu, pi, pm, { code: card.behavior.code, decline_code: card.behavior.decline_code, message: card.behavior.message }, ctx, false);
        const { payment_intent: _pi, payment_method: _pm, ...apiErr } = err.body;
        finishAction(emu, reader, 'failed', { code: card.behavior.code, message: card.behavior.message, api_error: apiErr }, ctx);
        return reader;
      }
      if (p.amount_tip) {
        pi.amount += p.amount_tip;
        pi.amount_details = { tip: { amount: p.amount_tip } };
      }
      pi.payment_method = pm.id;
      authorize(emu, pi, pm, ctx, false);
      finishAction(emu, reader, 'succeeded', null, ctx);
      return reader;
    },
  });
}

/** Admin: take a reader offline / online. */
export function setReaderStatus(reader: StripeObject, status: 'online' | 'offline'): StripeObject {
  reader.status = status;
  if (status === 'online') reader.last_seen_at = Date.now();
  return reader;
}

export const nowMs = () => nowSeconds() * 1000;
