/** Ephemeral keys (mobile PaymentSheet) and CustomerSessions. */
import type { Emulator } from '../app';
import { invalidRequest } from '../http/errors';
import { f, EXPAND } from '../http/params';
import { newId, nowSeconds, randomToken } from '../ids';
import type { StripeObject } from '../store';

export function register(emu: Emulator): void {
  const { store } = emu;
  emu.route({
    method: 'POST',
    path: '/v1/ephemeral_keys',
    spec: { ...EXPAND, customer: f.str(), issuing_card: f.str(), nonce: f.str(), verification_session: f.str() },
    handler: (ctx) => {
      if (!ctx.stripeVersionHeader) {
        throw invalidRequest('Stripe-Version header is required to create an ephemeral key (the mobile SDK’s API version).', { param: 'Stripe-Version' });
      }
      const p = ctx.params;
      const target = (['customer', 'issuing_card', 'nonce', 'verification_session'] as const).filter((k) => p[k]);
      if (target.length !== 1) {
        throw invalidRequest('You must pass exactly one of customer, issuing_card, nonce or verification_session.', { param: 'customer', code: 'parameter_missing' });
      }
      if (p.customer) emu.get(store.customers, 'customer', p.customer, 'customer');
      const created = nowSeconds();
      const key: StripeObject = {
        id: newId('ephkey'),
        object: 'ephemeral_key',
        associated_objects: [{ id: p[target[0]!], type: target[0] }],
        created,
        expires: created + 3600,
        livemode: false,
        secret: `ek_test_${randomToken(40)}`,
      };
      store.ephemeralKeys.insert(key);
      return key;
    },
  });
  emu.route({
    method: 'DELETE',
    path: '/v1/ephemeral_keys/:id',
    spec: EXPAND,
    handler: (ctx) => {
      const key = emu.get(store.ephemeralKeys, 'ephemeral key', ctx.pathParams.id!);
      key.expires = nowSeconds();
      const { secret: _secret, ...rest } = key;
      return rest;
    },
  });
  emu.route({
    method: 'POST',
    path: '/v1/customer_sessions',
    spec: { ...EXPAND, customer: f.str(), customer_account: f.str(), components: f.any({ required: true }) },
    handler: (ctx) => {
      const p = ctx.params;
      if (!p.customer) throw invalidRequest('Missing required param: customer.', { param: 'customer', code: 'parameter_missing' });
      emu.get(store.customers, 'customer', p.customer, 'customer');
      const created = nowSeconds();
      const components: Record<string, unknown> = {};
      for (const c of ['buy_button', 'customer_sheet', 'mobile_payment_element', 'payment_element', 'pricing_table']) {
        const given = (p.components as Record<string, any>)[c];
        components[c] = { enabled: given?.enabled === 'true', features: given?.features ?? null };
      }
      const session: StripeObject = {
        id: newId('cuss'),
        object: 'customer_session',
        client_secret: `cuss_secret_${randomToken(40)}`,
        components,
        created,
        customer: p.customer,
        customer_account: null,
        expires_at: created + 1800,
        livemode: false,
      };
      store.customerSessions.insert(session);
      return session;
    },
  });
}
