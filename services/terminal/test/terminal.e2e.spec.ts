import { eventually, type ServiceProcess } from '@omnipay/testing';
import {
  paymentEvents,
  startTerminalStack,
  stopTerminalStack,
  terminalEvents,
  type Json,
  type TerminalStack,
} from './harness';

jest.setTimeout(240_000);

let s: TerminalStack;
beforeAll(async () => {
  s = await startTerminalStack('term_e2e');
});
afterAll(async () => {
  await stopTerminalStack(s);
});

const BERLIN = {
  id: 'store_berlin',
  displayName: 'Berlin Mitte',
  address: { line1: 'Rosenthaler Str. 1', city: 'Berlin', postalCode: '10119', country: 'DE' },
};
const PARIS = {
  id: 'store_paris',
  displayName: 'Paris Marais',
  address: { line1: '1 Rue des Rosiers', city: 'Paris', postalCode: '75004', country: 'FR' },
};
const SKU = 'TSHIRT-BLK-M';

const term = () => s.terminal;
const post = (p: string, body: unknown) => term().post<Json>(p, body);
const get = (p: string) => term().get<Json>(p);

async function placePosOrder(quantity = 1): Promise<Json> {
  const res = await s.orders.post<Json>('/orders', {
    channel: 'pos',
    storeId: 'store_berlin',
    customerId: null,
    fulfilment: 'in_store',
    currency: 'eur',
    lines: [{ sku: SKU, quantity }],
  });
  expect(res.status).toBe(201);
  return res.body;
}

async function stock(): Promise<{ onHand: number; reserved: number }> {
  const res = await s.orders.get<Json>(`/inventory/stock?sku=${SKU}&locationId=store_berlin`);
  return res.body.stock[0] as { onHand: number; reserved: number };
}

async function payOnReader(p: ServiceProcess, readerId: string, order: Json) {
  return p.post<Json>(`/stores/store_berlin/readers/${readerId}/payments`, {
    orderId: order.id,
    amount: order.total,
    currency: order.currency,
  });
}

function present(stripeReaderId: string, number?: string) {
  return s.stripe.testHelpers.terminal.readers.presentPaymentMethod(
    stripeReaderId,
    number ? { card_present: { number } } : {},
  );
}

async function actionOf(readerId: string, actionId: string, p: ServiceProcess = term()) {
  return (await p.get<Json>(`/stores/store_berlin/readers/${readerId}/payments/${actionId}`)).body;
}

async function waitAction(
  readerId: string,
  actionId: string,
  check: (a: Json) => boolean,
  what: string,
  p?: ServiceProcess,
) {
  return eventually(() => actionOf(readerId, actionId, p), check, {
    timeoutMs: 45_000,
    intervalMs: 200,
    what,
  });
}

async function orderStatus(orderId: string): Promise<string> {
  return ((await s.orders.get<Json>(`/orders/${orderId}`)).body.status as string) ?? '';
}

async function attemptsOf(orderId: string): Promise<Json[]> {
  const res = await s.payments.get<Json>(`/payments/by-order/${orderId}`);
  return res.status === 404 ? [] : (res.body.attempts as Json[]);
}

async function assertOneCapture(paymentIntentId: string, amount: number) {
  const pi = await s.stripe.paymentIntents.retrieve(paymentIntentId);
  expect(pi.status).toBe('succeeded');
  expect(pi.amount_received).toBe(amount);
  const charges = await s.stripe.charges.list({ payment_intent: paymentIntentId });
  const captured = charges.data.filter((c) => c.captured);
  expect(captured).toHaveLength(1);
  expect(captured[0].amount_captured).toBe(amount);
  const events = await s.stripe.events.list({ type: 'charge.captured', limit: 100 });
  expect(
    events.data.filter(
      (e) => (e.data.object as { payment_intent?: string }).payment_intent === paymentIntentId,
    ),
  ).toHaveLength(1);
}

let reader: Json;

/** The statuses ReaderActionChanged announced for an order on the reader, sorted, once `done` holds for them. */
function announcedStatuses(orderId: string, done: (sorted: string[]) => boolean): Promise<string[]> {
  return eventually(
    async () =>
      terminalEvents(s, reader.readerId as string)
        .filter((e) => e.type === 'terminal.reader_action_changed' && e.data.orderId === orderId)
        .map((e) => e.data.status as string)
        .sort(),
    done,
    { what: `the reader action statuses of order ${orderId}` },
  );
}

describe('terminal: stores, readers and payments on simulated readers', () => {
  it('creates stores as Stripe locations idempotently, registers a reader and scopes connection tokens to the store', async () => {
    const created = await post('/stores', BERLIN);
    expect(created.status).toBe(201);
    expect(created.body.stripeLocationId).toMatch(/^tml_/);
    const again = await post('/stores', BERLIN);
    expect(again.status).toBe(200);
    expect(again.body.stripeLocationId).toBe(created.body.stripeLocationId);
    expect((await s.stripe.terminal.locations.list({ limit: 100 })).data).toHaveLength(1);
    expect((await post('/stores', { ...BERLIN, displayName: 'Other' })).status).toBe(409);
    expect((await post('/stores', PARIS)).status).toBe(201);
    expect((await get('/stores')).body.stores.map((x: Json) => x.id)).toEqual([
      'store_berlin',
      'store_paris',
    ]);
    expect((await get('/stores/store_nowhere')).status).toBe(404);
    expect((await post('/stores', { id: 'Bad Id', displayName: '', address: {} })).status).toBe(400);

    const reg = await post('/stores/store_berlin/readers', {
      registrationCode: 'simulated-wpe',
      label: 'Till 1',
    });
    expect(reg.status).toBe(201);
    reader = reg.body;
    expect(reader).toMatchObject({
      storeId: 'store_berlin',
      label: 'Till 1',
      status: 'online',
      currentAction: null,
    });
    const sr = await s.stripe.terminal.readers.retrieve(reader.stripeReaderId as string);
    expect((sr as { location: string }).location).toBe(created.body.stripeLocationId);

    const listed = await get('/stores/store_berlin/readers');
    expect(listed.body.readers.map((r: Json) => r.readerId)).toEqual([reader.readerId]);
    // A reader belongs to one store: through another store's routes it does not exist.
    expect((await get(`/stores/store_paris/readers/${reader.readerId}`)).status).toBe(404);
    expect((await get('/stores/store_paris/readers')).body.readers).toEqual([]);
    const other = await post(`/stores/store_paris/readers/${reader.readerId}/payments`, {
      orderId: 'ord_x',
      amount: 100,
      currency: 'eur',
    });
    expect(other.status).toBe(404);

    const token = await post('/stores/store_paris/connection-tokens', {});
    expect(token.status).toBe(201);
    expect(token.body.secret).toMatch(/^pst_test_/);
    expect(token.body.location).toBe((await get('/stores/store_paris')).body.stripeLocationId);
    expect((await post('/stores/store_nowhere/connection-tokens', {})).status).toBe(404);

    await eventually(
      async () => terminalEvents(s, reader.readerId as string).map((e) => e.type),
      (t) => t.includes('terminal.reader_registered'),
      { what: 'ReaderRegistered on the wire' },
    );
  });

  it('pays a POS order on the reader: cart shown, card presented, one capture, order paid and stock committed; a busy reader refuses a second payment without a second PaymentIntent', async () => {
    const before = await stock();
    const order = await placePosOrder(2);
    expect(order.total).toBe(4600);
    const started = await payOnReader(term(), reader.readerId as string, order);
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({
      status: 'in_progress',
      orderId: order.id,
      amount: 4600,
      attempt: 1,
    });
    expect(started.body.paymentIntentId).toMatch(/^pi_/);
    expect(JSON.stringify(started.body)).not.toContain('secret');

    // Busy: another order on the same reader, and the same order again, get a 409 and no PaymentIntent.
    const second = await placePosOrder(1);
    const busy = await payOnReader(term(), reader.readerId as string, second);
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe('reader_busy');
    expect(await attemptsOf(second.id as string)).toEqual([]);
    expect((await payOnReader(term(), reader.readerId as string, order)).status).toBe(409);
    expect(await attemptsOf(order.id as string)).toHaveLength(1);
    const view = await get(`/stores/store_berlin/readers/${reader.readerId}`);
    expect(view.body.currentAction.actionId).toBe(started.body.actionId);
    expect(view.body.stripeAction).toEqual({ type: 'process_payment_intent', status: 'in_progress' });

    await present(reader.stripeReaderId as string);
    const done = await waitAction(
      reader.readerId as string,
      started.body.actionId as string,
      (a) => a.status === 'succeeded' && a.capture.status === 'captured',
      'reader payment captured',
    );
    expect(done.capture.capturedAmount).toBe(4600);
    await assertOneCapture(started.body.paymentIntentId as string, 4600);
    await eventually(
      () => orderStatus(order.id as string),
      (st) => st === 'paid',
      { what: 'order paid', timeoutMs: 30_000 },
    );
    const after = await eventually(stock, (x) => x.onHand === before.onHand - 2, { what: 'stock committed' });
    expect(after.reserved).toBe(before.reserved + 1); // the second order (1 unit) is still reserved, unpaid
    // The reader shows the cart it was given (set_reader_display happened before the payment).
    const display = await s.stripe.events.list({ type: 'terminal.reader.action_succeeded', limit: 100 });
    const carts = display.data
      .map((e) => (e.data.object as unknown as Json).action)
      .filter((a: Json) => a.type === 'set_reader_display');
    expect(carts[carts.length - 1].set_reader_display.cart).toMatchObject({
      currency: 'eur',
      total: 4600,
      line_items: [{ description: 'T-shirt, black, M', quantity: 2, amount: 4600 }],
    });
    expect(await announcedStatuses(order.id as string, (st) => st.includes('succeeded'))).toEqual(['started', 'succeeded']);
  });

  it('with duplicated and shuffled events: a declined card fails the action, frees the reader and keeps the order payable; the retry reuses the PaymentIntent and captures once', async () => {
    await fetch(`${s.emu.url}/_emulator/faults/webhooks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ duplicate: 3, shuffle_window_ms: 400 }),
    });
    try {
      const order = await placePosOrder(1);
      const first = await payOnReader(term(), reader.readerId as string, order);
      expect(first.status).toBe(201);
      await present(reader.stripeReaderId as string, '4000000000000002');
      const failed = await waitAction(
        reader.readerId as string,
        first.body.actionId as string,
        (a) => a.status === 'failed',
        'declined action failed',
      );
      expect(failed.failure.code).toBe('card_declined');
      expect(failed.capture.status).toBe('none');
      expect((await get(`/stores/store_berlin/readers/${reader.readerId}`)).body.currentAction).toBeNull();
      // Still payable: orders keeps a declined order open until its deadline.
      expect(['pending_payment', 'payment_failed']).toContain(await orderStatus(order.id as string));

      const retry = await payOnReader(term(), reader.readerId as string, order);
      expect(retry.status).toBe(201);
      expect(retry.body.paymentIntentId).toBe(first.body.paymentIntentId);
      expect(retry.body.attempt).toBe(1);
      // Late copies of the decline arrive while the retry runs: they must not fail it.
      await new Promise((r) => setTimeout(r, 1200));
      expect((await actionOf(reader.readerId as string, retry.body.actionId as string)).status).toBe(
        'in_progress',
      );
      await present(reader.stripeReaderId as string);
      await waitAction(
        reader.readerId as string,
        retry.body.actionId as string,
        (a) => a.status === 'succeeded' && a.capture.status === 'captured',
        'retry captured',
      );
      await eventually(
        () => orderStatus(order.id as string),
        (st) => st === 'paid',
        { what: 'order paid', timeoutMs: 30_000 },
      );
      await s.emu.webhooksIdle();
      await new Promise((r) => setTimeout(r, 1000));
      expect((await actionOf(reader.readerId as string, first.body.actionId as string)).status).toBe(
        'failed',
      );
      expect((await actionOf(reader.readerId as string, retry.body.actionId as string)).status).toBe(
        'succeeded',
      );
      await assertOneCapture(retry.body.paymentIntentId as string, order.total as number);
      expect(await attemptsOf(order.id as string)).toHaveLength(1);
      expect(paymentEvents(s, order.id as string).filter((e) => e.type === 'payment.succeeded')).toHaveLength(
        1,
      );
    } finally {
      await fetch(`${s.emu.url}/_emulator/faults`, { method: 'DELETE' });
    }
  });

  it('times out a reader that never answers, frees it, and the retry uses the same PaymentIntent; the cashier can cancel a running action', async () => {
    const order = await placePosOrder(1);
    const first = await payOnReader(term(), reader.readerId as string, order);
    expect(first.status).toBe(201);
    await present(reader.stripeReaderId as string, '4000000000000408');
    const timedOut = await waitAction(
      reader.readerId as string,
      first.body.actionId as string,
      (a) => a.status === 'timed_out',
      'timed out',
    );
    expect(timedOut.failure.code).toBe('timed_out');
    const sr = (await s.stripe.terminal.readers.retrieve(reader.stripeReaderId as string)) as unknown as Json;
    expect(sr.action.status).toBe('failed'); // cancel_action was sent

    // The cashier starts again, then cancels, then starts again and the customer pays.
    const second = await payOnReader(term(), reader.readerId as string, order);
    expect(second.status).toBe(201);
    expect(second.body.paymentIntentId).toBe(first.body.paymentIntentId);
    const canceled = await post(`/stores/store_berlin/readers/${reader.readerId}/cancel-action`, {});
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    expect((await post(`/stores/store_berlin/readers/${reader.readerId}/cancel-action`, {})).status).toBe(
      409,
    );

    const third = await payOnReader(term(), reader.readerId as string, order);
    expect(third.status).toBe(201);
    expect(third.body.paymentIntentId).toBe(first.body.paymentIntentId);
    await present(reader.stripeReaderId as string);
    await waitAction(
      reader.readerId as string,
      third.body.actionId as string,
      (a) => a.status === 'succeeded' && a.capture.status === 'captured',
      'third attempt captured',
    );
    await assertOneCapture(first.body.paymentIntentId as string, order.total as number);
    expect(await attemptsOf(order.id as string)).toHaveLength(1);
    await announcedStatuses(
      order.id as string,
      (st) => st.join() === ['canceled', 'started', 'started', 'started', 'succeeded', 'timed_out'].join(),
    );
  });

  it('SIGKILL between the reader success and the capture still ends with exactly one capture after restart', async () => {
    // Auto-capture off makes the gap between success and capture as long as we want it.
    await s.terminal.kill();
    s.terminal = await s.startTerminal({ TERMINAL_AUTO_CAPTURE: 'false' });
    const order = await placePosOrder(1);
    const started = await payOnReader(term(), reader.readerId as string, order);
    expect(started.status).toBe(201);
    await present(reader.stripeReaderId as string);
    const ok = await waitAction(
      reader.readerId as string,
      started.body.actionId as string,
      (a) => a.status === 'succeeded',
      'succeeded, not captured',
    );
    expect(ok.capture.status).toBe('pending');
    await new Promise((r) => setTimeout(r, 600));
    expect((await actionOf(reader.readerId as string, started.body.actionId as string)).capture.status).toBe(
      'pending',
    );
    expect((await s.stripe.paymentIntents.retrieve(started.body.paymentIntentId as string)).status).toBe(
      'requires_capture',
    );

    await s.terminal.kill();
    s.terminal = await s.startTerminal({ TERMINAL_AUTO_CAPTURE: 'true' });
    await waitAction(
      reader.readerId as string,
      started.body.actionId as string,
      (a) => a.capture.status === 'captured',
      'captured after restart',
    );
    await eventually(
      () => orderStatus(order.id as string),
      (st) => st === 'paid',
      { what: 'order paid', timeoutMs: 30_000 },
    );
    await new Promise((r) => setTimeout(r, 1000));
    await assertOneCapture(started.body.paymentIntentId as string, order.total as number);
    const payment = (await s.payments.get<Json>(`/payments/by-order/${order.id}`)).body.latest as Json;
    expect(payment).toMatchObject({ status: 'succeeded', amountReceived: order.total });
  });

  it.each([
    ['the cart is being shown', '^/v1/terminal/readers/[^/]+/set_reader_display$'],
    ['the hand-off is on its way to the reader', '^/v1/terminal/readers/[^/]+/process_payment_intent$'],
  ])('leaves nothing waiting for a card when the cashier cancels while %s; the retry takes the payment once', async (_while, path) => {
    const readerId = reader.readerId as string;
    const order = await placePosOrder(1);
    const slow = s.emu.addApiFault({ method: 'POST', path, delay_ms: 2000, times: 1 });
    const starting = payOnReader(term(), readerId, order);
    await eventually(async () => slow.hits, (n) => n >= 1, { what: 'the start to reach the slow Stripe call' });
    // The reader has nothing to cancel yet: the cancel settles the action from what Stripe says.
    const canceled = await post(`/stores/store_berlin/readers/${readerId}/cancel-action`, {});
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    const started = await starting;
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ actionId: canceled.body.actionId, status: 'canceled' });
    // What the cashier was told holds at the reader too: it does not wait for a card.
    const sr = (await s.stripe.terminal.readers.retrieve(reader.stripeReaderId as string)) as unknown as Json;
    expect(sr.action?.status ?? null).not.toBe('in_progress');
    expect((await s.stripe.paymentIntents.retrieve(started.body.paymentIntentId as string)).status).toBe('requires_payment_method');

    // The reader is free, and the retry runs on the same PaymentIntent.
    const retry = await payOnReader(term(), readerId, order);
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ status: 'in_progress', paymentIntentId: started.body.paymentIntentId });
    await present(reader.stripeReaderId as string);
    await waitAction(readerId, retry.body.actionId as string, (a) => a.status === 'succeeded' && a.capture.status === 'captured', 'the retry captured');
    await assertOneCapture(started.body.paymentIntentId as string, order.total as number);
    expect((await actionOf(readerId, started.body.actionId as string)).status).toBe('canceled');
  });

  describe("when Stripe's answer or its event is lost", () => {
    const PROCESS = '^/v1/terminal/readers/[^/]+/process_payment_intent$';
    // A replica whose Stripe client does not retry, so the lost answer reaches our code (the SDK's own retries
    // would replay the stored answer under the same key).
    let flaky: ServiceProcess;
    beforeAll(async () => {
      flaky = await s.startTerminal({ STRIPE_MAX_NETWORK_RETRIES: '0' });
    });
    afterAll(async () => {
      s.emu.clearFaults();
      await flaky?.stop();
    });

    /** A payment whose hand-off Stripe refused with a 500 without acting on it: the answer is the pending action. */
    async function unconfirmedHandOff() {
      const order = await placePosOrder(1);
      s.emu.addApiFault({ method: 'POST', path: PROCESS, status: 500, times: 1 });
      const res = await payOnReader(flaky, reader.readerId as string, order);
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ status: 'pending', failure: null });
      return { order, first: res.body };
    }
    /** The lost request reaches the reader after all, as a request Stripe had queued would. */
    const landLate = (paymentIntentId: string) =>
      s.stripe.terminal.readers.processPaymentIntent(reader.stripeReaderId as string, { payment_intent: paymentIntentId });
    const captured = (actionId: string, what: string, p?: ServiceProcess) =>
      waitAction(reader.readerId as string, actionId, (a) => a.status === 'succeeded' && a.capture.status === 'captured', what, p);

    it('follows a payment the reader took though Stripe answered 500 after acting: the answer is the running action, one PaymentIntent, one capture', async () => {
      const order = await placePosOrder(1);
      s.emu.addApiFault({ method: 'POST', path: PROCESS, ambiguous: true, times: 1 });
      const started = await payOnReader(flaky, reader.readerId as string, order);
      expect(started.status).toBe(201);
      expect(started.body).toMatchObject({ status: 'in_progress', failure: null });
      const sr = (await s.stripe.terminal.readers.retrieve(reader.stripeReaderId as string)) as unknown as Json;
      expect(sr.action).toMatchObject({ status: 'in_progress', process_payment_intent: { payment_intent: started.body.paymentIntentId } });

      await present(reader.stripeReaderId as string);
      await captured(started.body.actionId as string, 'the followed payment captured', flaky);
      await assertOneCapture(started.body.paymentIntentId as string, order.total as number);
      expect(await attemptsOf(order.id as string)).toHaveLength(1);
      await eventually(() => orderStatus(order.id as string), (st) => st === 'paid', { what: 'order paid', timeoutMs: 30_000 });
    });

    it('keeps a hand-off Stripe did not confirm pending and holding the reader; once cancelled, the retry adopts the same PaymentIntent when the lost request landed late', async () => {
      const { order, first } = await unconfirmedHandOff();
      expect(first.paymentIntentId).toMatch(/^pi_/);
      // Due now (when the start gave up), not a whole READER_ACTION_TIMEOUT_MS (5 s here) after the start.
      expect(Date.parse(first.deadlineAt as string) - Date.parse(first.createdAt as string)).toBeLessThan(4000);
      // The reader is still ours: another order cannot take it, and nothing was asked of payments for that one.
      const other = await placePosOrder(1);
      const busy = await payOnReader(term(), reader.readerId as string, other);
      expect(busy.status).toBe(409);
      expect(busy.body.error.code).toBe('reader_busy');
      expect(await attemptsOf(other.id as string)).toEqual([]);

      const canceled = await post(`/stores/store_berlin/readers/${reader.readerId}/cancel-action`, {});
      expect(canceled.status).toBe(200);
      expect(canceled.body).toMatchObject({ actionId: first.actionId, status: 'canceled' });

      // Our PaymentIntent now runs on a reader whose action we cancelled. The cashier's retry finds the reader busy
      // with that very PaymentIntent.
      await landLate(first.paymentIntentId as string);
      const retry = await payOnReader(flaky, reader.readerId as string, order);
      expect(retry.status).toBe(201);
      expect(retry.body).toMatchObject({ status: 'in_progress', paymentIntentId: first.paymentIntentId });
      expect(retry.body.actionId).not.toBe(first.actionId);

      await present(reader.stripeReaderId as string);
      await captured(retry.body.actionId as string, 'the adopted payment captured');
      await assertOneCapture(first.paymentIntentId as string, order.total as number);
      expect(await attemptsOf(order.id as string)).toHaveLength(1);
      expect((await actionOf(reader.readerId as string, first.actionId as string)).status).toBe('canceled');
      // The other order was never touched and the reader takes it now.
      await s.orders.post(`/orders/${other.id}/cancel`, { actor: 'test', reason: 'not needed' });
    });

    it('captures a payment whose hand-off landed after the cashier had cancelled its action, when the customer taps without a retry', async () => {
      const { order, first } = await unconfirmedHandOff();
      const canceled = await post(`/stores/store_berlin/readers/${reader.readerId}/cancel-action`, {});
      expect(canceled.body).toMatchObject({ actionId: first.actionId, status: 'canceled' });
      await landLate(first.paymentIntentId as string);
      await present(reader.stripeReaderId as string);
      // Money authorised on a cancelled action: recorded and captured, not left hanging.
      const done = await captured(first.actionId as string, 'the cancelled action succeeded and captured');
      expect(done.failure).toBeNull();
      await assertOneCapture(first.paymentIntentId as string, order.total as number);
      await eventually(() => orderStatus(order.id as string), (st) => st === 'paid', { what: 'order paid', timeoutMs: 30_000 });
    });

    it('follows a pending action whose hand-off landed late instead of cancelling it when its grace ends, then captures once', async () => {
      const { order, first } = await unconfirmedHandOff();
      await landLate(first.paymentIntentId as string);
      const followed = await waitAction(
        reader.readerId as string,
        first.actionId as string,
        (a) => a.status !== 'pending',
        'the sweeper to settle the pending action',
      );
      expect(followed.status).toBe('in_progress');
      // A whole deadline from when it was followed, so the customer has the usual time to tap.
      expect(Date.parse(followed.deadlineAt as string)).toBeGreaterThan(Date.parse(followed.updatedAt as string) + 4000);
      const sr = (await s.stripe.terminal.readers.retrieve(reader.stripeReaderId as string)) as unknown as Json;
      expect(sr.action.status).toBe('in_progress'); // not cancelled under the customer

      await present(reader.stripeReaderId as string);
      await captured(first.actionId as string, 'the followed action captured');
      await assertOneCapture(first.paymentIntentId as string, order.total as number);
      expect(await attemptsOf(order.id as string)).toHaveLength(1);
    });

    describe('with a replica that reads quiet actions from Stripe every second', () => {
      // Two minutes for the reader, so only the check can settle these payments within the waits below (the other
      // replicas check every 15 s, after this one).
      let checking: ServiceProcess;
      beforeAll(async () => {
        checking = await s.startTerminal({ READER_ACTION_TIMEOUT_MS: '120000', READER_CHECK_MS: '1000' });
      });
      afterAll(async () => {
        await checking?.stop();
      });
      const checked = async (outcome: string) =>
        Number(new RegExp(`^terminal_reader_checks_total\\{outcome="${outcome}"\\} (\\d+)$`, 'm').exec((await checking.get('/metrics')).text)?.[1] ?? 0);

      it('settles and captures a reader payment whose success event was lost, long before its deadline: one capture', async () => {
        const order = await placePosOrder(1);
        const started = await payOnReader(checking, reader.readerId as string, order);
        expect(started.status).toBe(201);
        s.emu.addWebhookFault({ drop_attempts: 1000 });
        await present(reader.stripeReaderId as string);
        s.emu.clearFaults();

        const done = await captured(started.body.actionId as string, 'the payment settled and captured without its event', checking);
        expect(done.failure).toBeNull();
        await assertOneCapture(started.body.paymentIntentId as string, order.total as number);
        expect(await checked('succeeded')).toBe(1);
        await eventually(() => orderStatus(order.id as string), (st) => st === 'paid', { what: 'order paid', timeoutMs: 30_000 });
        expect(await announcedStatuses(order.id as string, (st) => st.includes('succeeded'))).toEqual(['started', 'succeeded']);
      });

      it('fails a declined reader payment whose failure event was lost, frees the reader, and leaves a running one alone', async () => {
        const order = await placePosOrder(1);
        const started = await payOnReader(checking, reader.readerId as string, order);
        expect(started.status).toBe(201);
        // Waiting for a card: checked, and left running.
        await eventually(() => checked('running'), (n) => n >= 1, { what: 'a check of the running action' });
        expect((await actionOf(reader.readerId as string, started.body.actionId as string, checking)).status).toBe('in_progress');

        s.emu.addWebhookFault({ drop_attempts: 1000 });
        await present(reader.stripeReaderId as string, '4000000000000002');
        s.emu.clearFaults();
        const failed = await waitAction(reader.readerId as string, started.body.actionId as string, (a) => a.status === 'failed', 'the decline settled without its event', checking);
        expect(failed.failure.code).toBe('card_declined');
        expect(failed.capture.status).toBe('none');
        expect(await checked('failed')).toBe(1);
        expect((await checking.get<Json>(`/stores/store_berlin/readers/${reader.readerId}`)).body.currentAction).toBeNull();
      });
    });

    it('captures a reader payment whose success event was lost, once its deadline passes and the PaymentIntent says it is authorised: one capture', async () => {
      const order = await placePosOrder(1);
      const started = await payOnReader(term(), reader.readerId as string, order);
      expect(started.status).toBe(201);
      s.emu.addWebhookFault({ drop_attempts: 1000 });
      await present(reader.stripeReaderId as string);
      expect((await s.stripe.paymentIntents.retrieve(started.body.paymentIntentId as string)).status).toBe('requires_capture');
      // Every delivery of the tap's events is lost (the drop count is fixed when an event is sent); later ones arrive.
      s.emu.clearFaults();

      const done = await captured(started.body.actionId as string, 'the payment captured without its success event');
      expect(done.failure).toBeNull();
      await assertOneCapture(started.body.paymentIntentId as string, order.total as number);
      await eventually(() => orderStatus(order.id as string), (st) => st === 'paid', { what: 'order paid', timeoutMs: 30_000 });
      expect(await announcedStatuses(order.id as string, (st) => st.includes('succeeded'))).toEqual(['started', 'succeeded']);
    });
  });

  it('reads only the reader events of stripe.events.v1: the payment events around them leave no inbox row in terminal', async () => {
    const wh = s.schema('webhooks');
    const term = s.schema('terminal');
    const readerTypes = ['terminal.reader.action_succeeded', 'terminal.reader.action_failed', 'terminal.reader.action_updated'];
    const others = await s.db.scalar<number>(`SELECT count(*) FROM ${wh}.stripe_events WHERE NOT type = ANY($1)`, [readerTypes]);
    expect(others).toBeGreaterThan(10); // payment_intent.*, charge.* of the payments above
    const readerIds = `SELECT envelope_id FROM ${wh}.stripe_events WHERE type = ANY($1)`;
    const readerEvents = await s.db.scalar<number>(`SELECT count(*) FROM (${readerIds}) r`, [readerTypes]);
    expect(readerEvents).toBeGreaterThan(0);
    // Every reader event is read (and recorded) ...
    await eventually(
      () => s.db.scalar<number>(`SELECT count(*) FROM ${term}.inbox WHERE message_id IN (${readerIds})`, [readerTypes]),
      (n) => n === readerEvents,
      { what: "terminal's inbox to hold every reader event" },
    );
    // ... and nothing else of the topic ever reached terminal's inbox.
    const unread = await s.db.scalar<number>(
      `SELECT count(*) FROM ${term}.inbox WHERE topic = 'stripe.events.v1' AND message_id NOT IN (${readerIds})`,
      [readerTypes],
    );
    expect(unread).toBe(0);
  });

  it('never puts the secret key in an answer or a log line', () => {
    for (const line of [...s.terminal.logs]) expect(line).not.toContain(s.emu.secretKey);
  });
});
