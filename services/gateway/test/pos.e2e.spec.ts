import { mintToken, type Role } from '@omnipay/auth';
import { TestDatabase, engines, eventually, startStack, type Stack } from '@omnipay/testing';
import Stripe from 'stripe';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const BERLIN = { id: 'store_berlin', displayName: 'Berlin Mitte', address: { line1: 'Torstr. 1', city: 'Berlin', postalCode: '10119', country: 'DE' } };
const PARIS = { id: 'store_paris', displayName: 'Paris Marais', address: { line1: '1 Rue des Rosiers', city: 'Paris', postalCode: '75004', country: 'FR' } };

/** In-store selling through the gateway: cashier, simulated reader, the same payment lifecycle as online. */
describe('POS through the gateway', () => {
  let stack: Stack;
  let stripe: Stripe;
  const db = new TestDatabase(engines().databaseUrl);
  const tokens: Record<string, string> = {};
  let berlinReader: Json;
  let saleActionId = '';
  let saleOrderId = '';

  beforeAll(async () => {
    stack = await startStack({ isolated: true, env: { terminal: { TERMINAL_SWEEP_MS: '200' }, gateway: { UPSTREAM_TIMEOUT_MS: '30000' } } });
    stripe = new Stripe(stack.emulator.secretKey, { ...(stack.emulator.stripeConfig as object), maxNetworkRetries: 0 });
    const t = (sub: string, role: Role, storeId?: string) => mintToken({ sub, role, storeId }, stack.secrets.jwt);
    Object.assign(tokens, {
      customer: t('cust_pos_anna', 'customer'),
      cashierBerlin: t('cashier_berlin', 'cashier', 'store_berlin'),
      managerBerlin: t('manager_berlin', 'manager', 'store_berlin'),
      cashierParis: t('cashier_paris', 'cashier', 'store_paris'),
      managerParis: t('manager_paris', 'manager', 'store_paris'),
      finance: t('fin', 'finance'),
      admin: t('ops', 'admin'),
    });
    for (const store of [BERLIN, PARIS]) expect((await api('admin', 'POST', '/v1/admin/stores', store)).status).toBeLessThan(300);
    const reg = await api('managerBerlin', 'POST', '/v1/pos/readers', { registrationCode: 'simulated-wpe', label: 'Till 1' });
    expect(reg.status).toBe(201);
    berlinReader = reg.body;
    expect((await api('managerParis', 'POST', '/v1/pos/readers', { registrationCode: 'simulated-wpe', label: 'Paris till' })).status).toBe(201);
  }, 180000);

  afterAll(async () => {
    await stack?.stop();
    for (const s of ['webhooks', 'payments', 'orders', 'terminal', 'gateway'] as const) await db.dropSchema(stack.schema(s));
    await db.close();
  }, 60000);

  async function api(who: string | null, method: string, path: string, body?: unknown) {
    const res = await fetch(`${stack.urls.gateway}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(who ? { authorization: `Bearer ${tokens[who]}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Json };
  }

  const stock = async (sku: string, location: string) =>
    ((await (await fetch(`${stack.urls.orders}/inventory/stock?sku=${sku}&locationId=${location}`)).json()) as { stock: Json[] }).stock[0];

  const waitOrder = (id: string, statuses: string[]) =>
    eventually(async () => (await api('cashierBerlin', 'GET', `/v1/orders/${id}`)).body, (o) => statuses.includes(o.status as string), {
      timeoutMs: 30000,
      what: `order ${id} in ${statuses.join('|')}`,
    });

  it("sells in store on a reader: one capture, the store's stock and the customer's points, exactly once; a decline leaves it payable", async () => {
    const before = await stock('MUG-WHT', 'store_berlin');
    const order = await api('cashierBerlin', 'POST', '/v1/pos/orders', {
      currency: 'eur',
      customerId: 'cust_pos_anna',
      lines: [{ sku: 'MUG-WHT', quantity: 2 }],
    });
    expect(order.status).toBe(201);
    expect(order.body).toMatchObject({ channel: 'pos', storeId: 'store_berlin', total: 2200 });

    // First card is declined: the reader is free again and the order can still be paid.
    const first = await api('cashierBerlin', 'POST', `/v1/pos/orders/${order.body.id}/pay`, { readerId: berlinReader.readerId });
    expect(first.status).toBe(201);
    await stripe.testHelpers.terminal.readers.presentPaymentMethod(berlinReader.stripeReaderId, { card_present: { number: '4000000000000002' } } as never);
    await eventually(
      async () => (await api('cashierBerlin', 'GET', `/v1/pos/readers/${berlinReader.readerId}/payments/${first.body.actionId}`)).body.status,
      (s) => s === 'failed',
      { what: 'the declined reader action' },
    );
    expect((await api('cashierBerlin', 'GET', `/v1/orders/${order.body.id}`)).body.status).toMatch(/pending_payment|payment_failed/);

    const second = await api('cashierBerlin', 'POST', `/v1/pos/orders/${order.body.id}/pay`, { readerId: berlinReader.readerId });
    expect(second.status).toBe(201);
    saleActionId = second.body.actionId as string;
    saleOrderId = order.body.id as string;
    const busy = await api('cashierBerlin', 'POST', `/v1/pos/orders/${order.body.id}/pay`, { readerId: berlinReader.readerId });
    expect(busy.status).toBe(409);
    await stripe.testHelpers.terminal.readers.presentPaymentMethod(berlinReader.stripeReaderId);
    const paid = await waitOrder(order.body.id as string, ['paid']);
    expect(paid.payment).toMatchObject({ amountPaid: 2200, currency: 'eur' });

    await new Promise((r) => setTimeout(r, 1500));
    const pis = await stripe.paymentIntents.list({ limit: 100 });
    const ofOrder = pis.data.filter((pi) => pi.metadata.orderId === order.body.id);
    expect(ofOrder).toHaveLength(1);
    expect(ofOrder[0]).toMatchObject({ status: 'succeeded', amount_received: 2200 });
    const after = await stock('MUG-WHT', 'store_berlin');
    expect(after.onHand).toBe(before.onHand - 2);
    const points = await eventually(
      async () => (await fetch(`${stack.urls.orders}/loyalty/customers/cust_pos_anna`)).json() as Promise<Json>,
      (l) => l.balance === 22,
      { what: 'points for the in-store purchase' },
    );
    expect(points.entries).toHaveLength(1);
  });

  it('refuses to start a reader payment for a cancelled or paid order, before any PaymentIntent exists', async () => {
    const order = await api('cashierBerlin', 'POST', '/v1/pos/orders', { currency: 'eur', lines: [{ sku: 'MUG-WHT', quantity: 1 }] });
    expect(order.status).toBe(201);
    expect((await api('cashierBerlin', 'POST', `/v1/orders/${order.body.id}/cancel`)).status).toBe(200);
    const refused = await api('cashierBerlin', 'POST', `/v1/pos/orders/${order.body.id}/pay`, { readerId: berlinReader.readerId });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ statusCode: 409, error: 'order_not_payable', details: { status: 'cancelled' } });
    const pis = await stripe.paymentIntents.list({ limit: 100 });
    expect(pis.data.filter((pi) => pi.metadata.orderId === order.body.id)).toHaveLength(0);

    // The order the first test sold on this reader is paid: paying it again is refused the same way.
    const again = await api('cashierBerlin', 'POST', `/v1/pos/orders/${saleOrderId}/pay`, { readerId: berlinReader.readerId });
    expect(again.status).toBe(409);
    expect(again.body.error).toBe('order_not_payable');
  });

  it('refunds a web order at a store counter: money to the original payment, stock to that store, points reversed pro rata', async () => {
    const customer = mintToken({ sub: 'cust_pos_eve', role: 'customer', channel: 'web' }, stack.secrets.jwt);
    tokens.eve = customer;
    const browser = new Stripe(stack.emulator.publishableKey, { ...(stack.emulator.stripeConfig as object), maxNetworkRetries: 0 });
    const checkout = await api('eve', 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'eur', lines: [{ sku: 'TSHIRT-BLK-M', quantity: 2 }] });
    expect(checkout.status).toBe(201);
    await browser.paymentIntents.confirm(checkout.body.paymentIntentId as string, {
      payment_method: 'pm_card_visa',
      client_secret: checkout.body.clientSecret,
    } as Stripe.PaymentIntentConfirmParams);
    await eventually(async () => (await api('eve', 'GET', `/v1/orders/${checkout.body.orderId}`)).body.status, (s) => s === 'paid', { what: 'the web order paid' });
    await eventually(
      async () => ((await (await fetch(`${stack.urls.orders}/loyalty/customers/cust_pos_eve`)).json()) as Json).balance,
      (b) => b === 46,
      { what: 'points for the web order' },
    );
    const berlinBefore = await stock('TSHIRT-BLK-M', 'store_berlin');

    // Not delivered yet: nothing to hand back at a counter.
    const early = await fetch(`${stack.urls.gateway}/v1/orders/${checkout.body.orderId}/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.managerBerlin}`, 'idempotency-key': 'counter-early' },
      body: JSON.stringify({ items: [{ sku: 'TSHIRT-BLK-M', quantity: 1 }] }),
    });
    expect({ status: early.status, code: ((await early.json()) as Json).error }).toEqual({ status: 409, code: 'not_delivered' });
    expect((await api('admin', 'POST', `/v1/orders/${checkout.body.orderId}/fulfilled`, {})).status).toBe(200);

    // Nothing handed back, or more money than the T-shirt is worth: not a counter return, and nothing is refunded.
    const refuse = async (body: Json, key: string) =>
      fetch(`${stack.urls.gateway}/v1/orders/${checkout.body.orderId}/refunds`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.managerBerlin}`, 'idempotency-key': key },
        body: JSON.stringify(body),
      });
    const moneyOnly = await refuse({}, 'counter-money-only');
    expect({ status: moneyOnly.status, code: ((await moneyOnly.json()) as Json).error }).toEqual({ status: 422, code: 'return_items_required' });
    const tooMuch = await refuse({ amount: 2301, items: [{ sku: 'TSHIRT-BLK-M', quantity: 1 }] }, 'counter-too-much');
    expect({ status: tooMuch.status, code: ((await tooMuch.json()) as Json).error }).toEqual({ status: 422, code: 'amount_exceeds_returned_items' });

    // A Berlin manager takes one T-shirt back over the counter.
    const res = await fetch(`${stack.urls.gateway}/v1/orders/${checkout.body.orderId}/refunds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.managerBerlin}`, 'idempotency-key': 'counter-return-1' },
      body: JSON.stringify({ amount: 2300, items: [{ sku: 'TSHIRT-BLK-M', quantity: 1 }] }),
    });
    expect(res.status).toBe(201);
    await eventually(async () => (await api('eve', 'GET', `/v1/orders/${checkout.body.orderId}`)).body.status, (s) => s === 'partially_refunded', {
      what: 'the order partially refunded',
    });
    // The same T-shirt again under another key: the order had two, so one more may come back, but never a third.
    const again = await refuse({ items: [{ sku: 'TSHIRT-BLK-M', quantity: 2 }] }, 'counter-return-again');
    expect({ status: again.status, code: ((await again.json()) as Json).error }).toEqual({ status: 422, code: 'too_many_items_returned' });
    await eventually(async () => (await stock('TSHIRT-BLK-M', 'store_berlin')).onHand, (n) => n === berlinBefore.onHand + 1, {
      what: 'the returned T-shirt in Berlin stock',
    });
    const loyalty = await eventually(
      async () => (await (await fetch(`${stack.urls.orders}/loyalty/customers/cust_pos_eve`)).json()) as Json,
      (l) => l.balance === 23,
      { what: 'points reversed pro rata (46 × 2300/4600)' },
    );
    expect(loyalty.entries).toHaveLength(2);
    const refunds = await stripe.refunds.list({ payment_intent: checkout.body.paymentIntentId as string });
    expect(refunds.data.map((r) => r.amount)).toEqual([2300]);
    // A Paris manager cannot refund a Berlin POS order, nor a cashier anything.
    expect((await api('cashierBerlin', 'POST', `/v1/orders/${checkout.body.orderId}/refunds`, {})).status).toBe(403);
  });

  it('keeps every role to its routes and every cashier and manager to their own store', async () => {
    const order = await api('cashierBerlin', 'POST', '/v1/pos/orders', { currency: 'eur', lines: [{ sku: 'STICKER-PACK', quantity: 1 }] });
    expect(order.status).toBe(201);
    const actions = await api('cashierBerlin', 'GET', `/v1/pos/orders/${order.body.id}/reader-payments`);
    expect(actions.status).toBe(200);
    const o = order.body.id as string;
    const r = berlinReader.readerId as string;
    const everyoneElse = ['customer', 'finance', 'admin'];
    const matrix: [string, string, string, unknown, Record<string, number>][] = [
      ['POST', '/v1/pos/orders', 'create an in-store order', { currency: 'eur', lines: [{ sku: 'STICKER-PACK', quantity: 1 }] }, { cashierBerlin: 201, managerParis: 201 }],
      ['POST', `/v1/pos/orders/${o}/pay`, 'pay a Berlin order on a Berlin reader', { readerId: r }, { cashierParis: 404, managerParis: 404 }],
      ['GET', `/v1/pos/orders/${o}/reader-payments`, "see a Berlin order's reader payments", undefined, { cashierBerlin: 200, cashierParis: 404, managerParis: 404 }],
      ['GET', `/v1/pos/readers/${r}/payments/${saleActionId}`, 'read a Berlin reader payment', undefined, { cashierBerlin: 200, cashierParis: 404, managerParis: 404 }],
      ['POST', `/v1/pos/readers/${r}/cancel-action`, 'cancel a Berlin reader action', {}, { cashierBerlin: 409, cashierParis: 404, managerParis: 404 }],
      ['POST', '/v1/pos/readers', 'register a reader', { registrationCode: 'simulated-wpe', label: 'matrix' }, { cashierBerlin: 403, managerBerlin: 201 }],
      ['POST', '/v1/pos/connection-tokens', 'get a connection token', undefined, { cashierBerlin: 201 }],
      ['GET', `/v1/orders/${o}`, 'read a Berlin order', undefined, { cashierBerlin: 200, managerBerlin: 200, cashierParis: 404, managerParis: 404, customer: 404, finance: 403, admin: 200 }],
      ['POST', `/v1/orders/${o}/refunds`, 'refund a Berlin order', {}, { cashierBerlin: 403, managerParis: 404, customer: 403, finance: 403 }],
      ['POST', '/v1/admin/stores', 'open a store', PARIS, { cashierBerlin: 403, managerBerlin: 403, customer: 403, finance: 403 }],
    ];
    const failures: string[] = [];
    for (const [method, path, what, body, expected] of matrix) {
      const cells = { ...Object.fromEntries(everyoneElse.filter(() => path.startsWith('/v1/pos')).map((w) => [w, 403])), ...expected };
      for (const [who, status] of Object.entries(cells)) {
        const res = await api(who, method, path, body);
        if (res.status !== status) failures.push(`${who} may ${what}: expected ${status}, got ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
      }
    }
    expect(failures).toEqual([]);

    const berlinReaders = await api('cashierBerlin', 'GET', '/v1/pos/readers');
    const parisReaders = await api('cashierParis', 'GET', '/v1/pos/readers');
    const ids = (b: Json) => ((b.readers ?? b) as Json[]).map((x) => x.readerId as string);
    expect(ids(berlinReaders.body)).toContain(r);
    expect(ids(parisReaders.body)).not.toContain(r);
    const token = await api('cashierBerlin', 'POST', '/v1/pos/connection-tokens');
    expect(token.body.location).toBe((await stripe.terminal.readers.retrieve(berlinReader.stripeReaderId as string) as Stripe.Terminal.Reader).location);
  });
});
