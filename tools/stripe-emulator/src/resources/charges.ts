import type { Emulator } from '../app';
import { f, EXPAND, LIST } from '../http/params';
import type { RequestContext } from '../http/router';
import { newId, nowSeconds, randomToken } from '../ids';
import type { StripeObject } from '../store';
import { applyUpdates } from './common';

const DAY = 86_400;

export function newCharge(
  emu: Emulator,
  pi: StripeObject,
  pm: StripeObject,
  outcome: { ok: true; capture: boolean } | { ok: false; code: string; decline_code: string; message: string },
  threeDSecure: boolean,
): StripeObject {
  const created = nowSeconds();
  const manual = outcome.ok && !outcome.capture;
  const captureBefore = manual ? created + (pm.type === 'card_present' ? 2 : 7) * DAY : null;
  let details: Record<string, unknown>;
  if (pm.type === 'card_present') {
    const c = pm.card_present;
    details = {
      card_present: {
        amount_authorized: outcome.ok ? pi.amount : null,
        brand: c.brand,
        brand_product: null,
        capture_before: captureBefore,
        cardholder_name: null,
        country: c.country,
        description: null,
        emv_auth_data: '8A023030',
        exp_month: c.exp_month,
        exp_year: c.exp_year,
        fingerprint: c.fingerprint,
        funding: c.funding,
        generated_card: null,
        incremental_authorization_supported: false,
        issuer: null,
        last4: c.last4,
        network: c.brand,
        network_transaction_id: randomToken(15),
        offline: null,
        overcapture_supported: false,
        preferred_locales: ['en'],
        read_method: 'contactless_emv',
        receipt: {
          account_type: 'credit',
          application_cryptogram: randomToken(16),
          application_preferred_name: c.brand.toUpperCase(),
          authorization_code: outcome.ok ? randomToken(6).toUpperCase() : null,
          authorization_response_code: outcome.ok ? '3030' : '3035',
          cardholder_verification_method: 'none',
          dedicated_file_name: 'A0000000031010',
          terminal_verification_results: '0000000000',
          transaction_status_information: '0000',
        },
        wallet: { type: 'unknown' },
      },
      type: 'card_present',
    };
  } else {
    const c = pm.card;
    details = {
      card: {
        amount_authorized: outcome.ok ? pi.amount : null,
        authorization_code: outcome.ok ? randomToken(6).toUpperCase() : null,
        brand: c.brand,
        capture_before: captureBefore,
        checks: c.checks,
        country: c.country,
        exp_month: c.exp_month,
        exp_year: c.exp_year,
        extended_authorization: { status: 'disabled' },
        fingerprint: c.fingerprint,
        funding: c.funding,
        incremental_authorization: { status: 'unavailable' },
        installments: null,
        last4: c.last4,
        mandate: null,
        multicapture: { status: 'unavailable' },
        network: c.brand,
        network_token: { used: false },
        network_transaction_id: randomToken(15),
        overcapture: { maximum_amount_capturable: pi.amount, status: 'unavailable' },
        regulated_status: 'unregulated',
        three_d_secure: threeDSecure
          ? { authentication_flow: 'challenge', electronic_commerce_indicator: '05', exemption_indicator: null, result: 'authenticated', result_reason: null, transaction_id: randomToken(20), version: '2.2.0' }
          : null,
        wallet: null,
      },
      type: 'card',
    };
  }
  const ch: StripeObject = {
    id: newId('ch'),
    object: 'charge',
    amount: pi.amount,
    amount_captured: 0,
    amount_refunded: 0,
    application: null,
    application_fee: null,
    application_fee_amount: pi.application_fee_amount ?? null,
    balance_transaction: null,
    billing_details: pm.billing_details,
    calculated_statement_descriptor: 'EMULATOR',
    captured: false,
    created,
    currency: pi.currency,
    customer: pi.customer,
    description: pi.description,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: outcome.ok ? null : outcome.code,
    failure_message: outcome.ok ? null : outcome.message,
    fraud_details: {},
    livemode: false,
    metadata: { ...pi.metadata },
    on_behalf_of: null,
    outcome: outcome.ok
      ? { advice_code: null, network_advice_code: null, network_decline_code: null, network_status: 'approved_by_network', reason: null, risk_level: 'normal', risk_score: 20, seller_message: 'Payment complete.', type: 'authorized' }
      : {
          advice_code: null,
          network_advice_code: null,
          network_decline_code: null,
          network_status: 'declined_by_network',
          reason: outcome.decline_code,
          risk_level: 'normal',
          risk_score: 20,
          seller_message: 'The bank did not return any further details with this decline.',
          type: 'issuer_declined',
        },
    paid: outcome.ok,
    payment_intent: pi.id,
    payment_method: pm.id,
    payment_method_details: details,
    radar_options: {},
    receipt_email: pi.receipt_email ?? null,
    receipt_number: null,
    receipt_url: `${emu.config.baseUrl}/_emulator/receipts/${'placeholder'}`,
    refunded: false,
    review: null,
    shipping: pi.shipping ?? null,
    source: null,
    source_transfer: null,
    statement_descriptor: pi.statement_descriptor ?? null,
    statement_descriptor_suffix: pi.statement_descriptor_suffix ?? null,
    status: outcome.ok ? 'succeeded' : 'failed',
    transfer_data: null,
    transfer_group: null,
  };
  ch.receipt_url = `${emu.config.baseUrl}/_emulator/receipts/${ch.id}`;
  emu.store.charges.insert(ch);
  return ch;
}

/** Charge object with its refunds list attached (for `expand[]=refunds`). */
export function chargeWithRefunds(emu: Emulator, ch: StripeObject): StripeObject {
  const ids = emu.store.refundsByCharge.get(ch.id) ?? [];
  const data = ids.map((id) => emu.store.refunds.get(id)!).reverse();
  return { ...ch, refunds: { object: 'list', data, has_more: false, total_count: data.length, url: `/v1/charges/${ch.id}/refunds` } };
}

/** Handles the `refunds` expansion (not a stored field since 2022-11-15) before the generic expander runs. */
export function expandRefunds(emu: Emulator, ctx: RequestContext, ch: StripeObject): StripeObject {
  const ex = ctx.params.expand as string[] | undefined;
  if (!ex?.includes('refunds')) return ch;
  ctx.params.expand = ex.filter((e) => e !== 'refunds');
  return chargeWithRefunds(emu, ch);
}

export function register(emu: Emulator): void {
  const { store } = emu;
  emu.route({
    method: 'GET',
    path: '/v1/charges/:id',
    spec: EXPAND,
    handler: (ctx) => expandRefunds(emu, ctx, emu.get(store.charges, 'charge', ctx.pathParams.id!)),
  });
  emu.route({
    method: 'POST',
    path: '/v1/charges/:id',
    spec: { ...EXPAND, metadata: f.meta(), description: f.str({ emptyOk: true }), receipt_email: f.str({ emptyOk: true }), fraud_details: f.any(), shipping: f.any(), transfer_group: f.str() },
    handler: (ctx) => {
      const ch = emu.get(store.charges, 'charge', ctx.pathParams.id!);
      const prev: Record<string, unknown> = {};
      applyUpdates(ch, ctx.params, ['description', 'receipt_email', 'shipping', 'transfer_group'], prev);
      if (Object.keys(prev).length) emu.emit('charge.updated', ch, ctx, prev);
      return expandRefunds(emu, ctx, ch);
    },
  });
  emu.route({
    method: 'GET',
    path: '/v1/charges',
    spec: { ...LIST, customer: f.str(), payment_intent: f.str(), transfer_group: f.str() },
    handler: (ctx) => {
      const { customer, payment_intent } = ctx.params;
      return emu.list(store.charges, '/v1/charges', ctx.params, customer || payment_intent ? (c) => (!customer || c.customer === customer) && (!payment_intent || c.payment_intent === payment_intent) : undefined);
    },
  });
}
