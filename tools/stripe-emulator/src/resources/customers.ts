import type { Emulator } from '../app';
import { f, EXPAND, LIST, Spec } from '../http/params';
import { newId, nowSeconds, randomToken } from '../ids';
import type { StripeObject } from '../store';
import { applyUpdates } from './common';
import { attachPaymentMethod, resolvePaymentMethod } from './payment-methods';

const address = f.obj({ city: f.str(), country: f.str(), line1: f.str(), line2: f.str(), postal_code: f.str(), state: f.str() }, { emptyOk: true });
const shipping = f.obj({ address, name: f.str(), phone: f.str() }, { emptyOk: true });
const FIELDS: Spec = {
  ...EXPAND,
  address,
  description: f.str({ emptyOk: true }),
  email: f.str({ emptyOk: true }),
  metadata: f.meta(),
  name: f.str({ emptyOk: true }),
  phone: f.str({ emptyOk: true }),
  preferred_locales: f.arr(f.str()),
  shipping,
  payment_method: f.str(),
  invoice_settings: f.obj({ default_payment_method: f.str({ emptyOk: true }), custom_fields: f.any(), footer: f.str({ emptyOk: true }), rendering_options: f.any() }),
  tax_exempt: f.enum(['exempt', 'none', 'reverse']),
  test_clock: f.str(),
  balance: f.int(),
};

export function register(emu: Emulator): void {
  const { store } = emu;

  emu.route({
    method: 'POST',
    path: '/v1/customers',
    spec: FIELDS,
    handler: (ctx) => {
      const p = ctx.params;
      const cus: StripeObject = {
        id: newId('cus', 14),
        object: 'customer',
        address: p.address ?? null,
        balance: p.balance ?? 0,
        created: nowSeconds(),
        currency: null,
        default_source: null,
        delinquent: false,
        description: p.description || null,
        discount: null,
        email: p.email || null,
        invoice_prefix: randomToken(8).toUpperCase(),
        invoice_settings: { custom_fields: null, default_payment_method: null, footer: null, rendering_options: null },
        livemode: false,
        metadata: p.metadata ?? {},
        name: p.name || null,
        next_invoice_sequence: 1,
        phone: p.phone || null,
        preferred_locales: p.preferred_locales ?? [],
        shipping: p.shipping ?? null,
        tax_exempt: p.tax_exempt ?? 'none',
        test_clock: null,
      };
      store.customers.insert(cus);
      emu.emit('customer.created', cus, ctx);
      if (p.payment_method) {
        // attach like Stripe does for `payment_method` on create
        const pm = resolvePaymentMethod(emu, p.payment_method, 'payment_method');
        attachPaymentMethod(emu, pm, cus.id, ctx);
      }
      return cus;
    },
  });

  emu.route({ method: 'GET', path: '/v1/customers/:id', spec: EXPAND, handler: (ctx) => emu.get(store.customers, 'customer', ctx.pathParams.id!) });

  emu.route({
    method: 'POST',
    path: '/v1/customers/:id',
    spec: FIELDS,
    handler: (ctx) => {
      const cus = emu.get(store.customers, 'customer', ctx.pathParams.id!);
      const prev: Record<string, unknown> = {};
      applyUpdates(cus, ctx.params, ['address', 'balance', 'description', 'email', 'name', 'phone', 'preferred_locales', 'shipping', 'tax_exempt'], prev);
      if (ctx.params.invoice_settings) {
        prev.invoice_settings = { ...cus.invoice_settings };
        cus.invoice_settings = { ...cus.invoice_settings, ...ctx.params.invoice_settings };
        if (cus.invoice_settings.default_payment_method === '') cus.invoice_settings.default_payment_method = null;
      }
      if (Object.keys(prev).length) emu.emit('customer.updated', cus, ctx, prev);
      return cus;
    },
  });

  emu.route({
    method: 'DELETE',
    path: '/v1/customers/:id',
    spec: {},
    handler: (ctx) => {
      const cus = emu.get(store.customers, 'customer', ctx.pathParams.id!);
      store.customers.delete(cus.id);
      emu.emit('customer.deleted', cus, ctx);
      return { id: cus.id, object: 'customer', deleted: true };
    },
  });

  emu.route({
    method: 'GET',
    path: '/v1/customers',
    spec: { ...LIST, email: f.str(), test_clock: f.str() },
    handler: (ctx) => {
      const email = ctx.params.email as string | undefined;
      return emu.list(store.customers, '/v1/customers', ctx.params, email ? (c) => c.email === email : undefined);
    },
  });
}
