import Stripe from 'stripe';
import { startTestEnv, stripeError, TestEnv, waitFor, WebhookReceiver } from '../test-utils';

let env: TestEnv;
let hook: WebhookReceiver;
let hookSecret: string;
beforeAll(async () => {
  env = await startTestEnv();
  hook = await new WebhookReceiver().start();
});
afterAll(async () => {
  await env.emu.close();
  await hook.close();
});
beforeEach(async () => {
  env.emu.reset();
  hook.received.length = 0;
  const ep = await env.stripe.webhookEndpoints.create({
    url: hook.url,
    enabled_events: ['payout.created', 'payout.paid', 'payout.reconciliation_completed', 'payout.failed'],
  });
  hookSecret = ep.secret!;
});

const pay = (amount: number, currency = 'usd') =>
  env.stripe.paymentIntents.create({
    amount,
    currency,
    payment_method: 'pm_card_visa',
    confirm: true,
    capture_method: 'automatic',
  });
const refund = (pi: Stripe.PaymentIntent, amount?: number) =>
  env.stripe.refunds.create({ payment_intent: pi.id, amount });
const chargeTxn = async (pi: Stripe.PaymentIntent) =>
  (await env.stripe.charges.retrieve(pi.latest_charge as string, { expand: ['balance_transaction'] }))
    .balance_transaction as Stripe.BalanceTransaction;
const allTxns = () =>
  env.stripe.balanceTransactions.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 });
const inPayout = (payout: string) =>
  env.stripe.balanceTransactions.list({ payout, limit: 100 }).autoPagingToArray({ limit: 10_000 });
const runOverHttp = async (body?: unknown): Promise<Stripe.Payout[]> => {
  const res = await env.admin('POST', '/_emulator/payouts', body);
  expect(res.status).toBe(200);
  expect(res.body.object).toBe('list');
  return res.body.data as Stripe.Payout[];
};
const sumNet = (txns: Stripe.BalanceTransaction[]) => txns.reduce((s, t) => s + t.net, 0);
const balanceOf = async (currency: string) => {
  const b = await env.stripe.balance.retrieve();
  const pick = (rows: Array<{ amount: number; currency: string }>) =>
    rows.find((r) => r.currency === currency)?.amount ?? 0;
  return { available: pick(b.available), pending: pick(b.pending) };
};

/** Every field of the SDK's Payout type (stripe 23.1.0), so the emulator's object has the full shape. */
const PAYOUT_FIELDS = [
  'amount',
  'application_fee',
  'application_fee_amount',
  'arrival_date',
  'automatic',
  'balance_transaction',
  'created',
  'currency',
  'description',
  'destination',
  'failure_balance_transaction',
  'failure_code',
  'failure_message',
  'id',
  'livemode',
  'metadata',
  'method',
  'object',
  'original_payout',
  'payout_method',
  'reconciliation_status',
  'reversed_by',
  'source_type',
  'statement_descriptor',
  'status',
  'trace_id',
  'type',
];

describe('payouts', () => {
  it('pays out the net of every charge, refund and fee not yet paid out, once', async () => {
    const a = await pay(5000);
    await pay(2000);
    const r = await refund(a, 700);
    const before = await allTxns();
    const expected = sumNet(before);
    expect(expected).toBe(5000 + 2000 - 700 - before.reduce((s, t) => s + t.fee, 0));
    expect(await balanceOf('usd')).toEqual({ available: 0, pending: expected });

    const [po, ...rest] = await runOverHttp();
    expect(rest).toEqual([]);
    expect(Object.keys(po!).sort()).toEqual(PAYOUT_FIELDS);
    expect(po).toEqual(
      expect.objectContaining({
        object: 'payout',
        amount: expected,
        currency: 'usd',
        automatic: true,
        status: 'paid',
        reconciliation_status: 'completed',
        method: 'standard',
        type: 'bank_account',
        source_type: 'card',
        description: 'STRIPE PAYOUT',
        metadata: {},
        failure_code: null,
        failure_message: null,
        failure_balance_transaction: null,
        statement_descriptor: null,
        original_payout: null,
        reversed_by: null,
        livemode: false,
      }),
    );
    expect(po!.id).toMatch(/^po_/);
    expect(po!.destination).toMatch(/^ba_/);

    const got = await env.stripe.payouts.retrieve(po!.id, { expand: ['balance_transaction'] });
    const own = got.balance_transaction as Stripe.BalanceTransaction;
    expect(own).toEqual(
      expect.objectContaining({
        type: 'payout',
        reporting_category: 'payout',
        amount: -expected,
        fee: 0,
        net: -expected,
        source: po!.id,
        status: 'available',
      }),
    );
    // the contents became available (no clock to wait for) and left the balance with the payout
    expect((await env.stripe.balanceTransactions.retrieve(r.balance_transaction as string)).status).toBe(
      'available',
    );
    expect((await chargeTxn(a)).status).toBe('available');
    expect(await balanceOf('usd')).toEqual({ available: 0, pending: 0 });

    expect(await runOverHttp()).toEqual([]);
    expect((await env.stripe.payouts.list()).data.map((p) => p.id)).toEqual([po!.id]);
  });

  it("lists a payout's transactions across pages and their nets sum to the payout", async () => {
    const pis = [];
    for (const amount of [1000, 2500, 990, 4321, 700, 1234]) pis.push(await pay(amount));
    await refund(pis[1]!, 500);
    await refund(pis[3]!);
    const contents = await allTxns();
    const [po] = env.emu.runPayouts();

    const pages: Stripe.BalanceTransaction[][] = [];
    let startingAfter: string | undefined;
    for (;;) {
      const page = await env.stripe.balanceTransactions.list({
        payout: po!.id,
        limit: 3,
        starting_after: startingAfter,
      });
      pages.push(page.data);
      if (!page.has_more) break;
      startingAfter = page.data[page.data.length - 1]!.id;
    }
    expect(pages.map((p) => p.length)).toEqual([3, 3, 3]);
    const listed = pages.flat();
    expect(new Set(listed.map((t) => t.id)).size).toBe(9);
    // newest first: the payout's own transaction, then what it paid out
    expect(listed[0]!.id).toBe(po!.balance_transaction);
    expect(
      listed
        .slice(1)
        .map((t) => t.id)
        .sort(),
    ).toEqual(contents.map((t) => t.id).sort());
    expect(sumNet(listed.filter((t) => t.type !== 'payout'))).toBe(po!.amount);
    expect(sumNet(listed)).toBe(0);
    expect((await inPayout(po!.id)).map((t) => t.id)).toEqual(listed.map((t) => t.id));

    const refunds = await env.stripe.balanceTransactions.list({ payout: po!.id, type: 'refund' });
    expect(refunds.data.map((t) => t.amount).sort((x, y) => x - y)).toEqual([-4321, -500]);
    expect((await env.stripe.balanceTransactions.list({ payout: po!.id, currency: 'eur' })).data).toEqual([]);
    const tooMany = await stripeError(env.stripe.balanceTransactions.list({ payout: po!.id, limit: 101 }));
    expect(tooMany.param).toBe('limit');
  });

  it('a second run pays out only what arrived since', async () => {
    const first = await pay(3000);
    const [po1] = env.emu.runPayouts();
    const firstContents = (await inPayout(po1!.id)).map((t) => t.id);

    const second = await pay(1000);
    const late = await refund(first, 200); // a refund of an already paid-out charge lands in the next payout
    const [po2] = await runOverHttp();
    const txn = await chargeTxn(second);
    expect(po2!.amount).toBe(txn.net - 200);
    expect((await inPayout(po2!.id)).map((t) => t.id).sort()).toEqual(
      [txn.id, late.balance_transaction as string, po2!.balance_transaction as string].sort(),
    );
    expect((await inPayout(po1!.id)).map((t) => t.id)).toEqual(firstContents);

    expect((await env.stripe.payouts.list()).data.map((p) => p.id)).toEqual([po2!.id, po1!.id]);
    expect((await env.stripe.payouts.list({ status: 'failed' })).data).toEqual([]);
    const now = Math.floor(Date.now() / 1000);
    expect(
      (await env.stripe.payouts.list({ arrival_date: { gte: now - 60 }, limit: 1 })).data.map((p) => p.id),
    ).toEqual([po2!.id]);
    expect((await env.stripe.payouts.list({ arrival_date: { lt: now - 60 } })).data).toEqual([]);
  });

  it('a failed payout returns its funds with a payout_failure transaction', async () => {
    const pi = await pay(4000);
    const net = (await chargeTxn(pi)).net;
    const [po] = env.emu.runPayouts({ status: 'failed' });
    expect(po).toEqual(
      expect.objectContaining({
        amount: net,
        status: 'failed',
        failure_code: 'account_closed',
        automatic: true,
      }),
    );
    expect(po!.failure_message).toEqual(expect.any(String));

    const failure = await env.stripe.balanceTransactions.retrieve(po!.failure_balance_transaction as string);
    expect(failure).toEqual(
      expect.objectContaining({
        type: 'payout_failure',
        reporting_category: 'payout_reversal',
        amount: net,
        fee: 0,
        net,
        source: po!.id,
        status: 'available',
      }),
    );
    expect(await balanceOf('usd')).toEqual({ available: net, pending: 0 });
    const listed = await inPayout(po!.id);
    expect(listed.map((t) => t.type)).toEqual(['payout', 'charge']);

    const events = (await env.stripe.events.list({ type: 'payout.*' })).data.reverse();
    expect(events.map((e) => e.type)).toEqual(['payout.created', 'payout.failed']);
    expect(events[1]!.data.previous_attributes).toEqual(
      expect.objectContaining({ status: 'pending', failure_code: null }),
    );
    // the returned funds are paid out by the next run, the failure's credit listed among its transactions
    const [again] = env.emu.runPayouts();
    expect(again).toEqual(expect.objectContaining({ amount: net, status: 'paid' }));
    expect((await inPayout(again!.id)).map((t) => [t.type, t.source])).toEqual([
      ['payout', again!.id],
      ['payout_failure', po!.id],
    ]);
  });

  it('a paid payout can fail afterwards, once', async () => {
    await pay(1500);
    const [po] = await runOverHttp({ currency: 'usd', status: 'paid' });
    const res = await env.admin('POST', `/_emulator/payouts/${po!.id}/fail`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(
      expect.objectContaining({ id: po!.id, status: 'failed', failure_code: 'account_closed' }),
    );
    expect(await balanceOf('usd')).toEqual({ available: po!.amount, pending: 0 });
    expect((await inPayout(po!.id)).map((t) => t.type)).toEqual(['payout', 'charge']);
    const failed = await waitFor(
      () => hook.events().find((e) => e.type === 'payout.failed'),
      3000,
      'payout.failed',
    );
    expect(failed.data.previous_attributes).toEqual(expect.objectContaining({ status: 'paid' }));

    const again = await env.admin('POST', `/_emulator/payouts/${po!.id}/fail`);
    expect(again.status).toBe(400);
    expect(again.body.error.message).toContain('only a paid payout');
    expect(() => env.emu.failPayout(po!.id)).toThrow(/only a paid payout/);
    expect((await env.admin('POST', '/_emulator/payouts/po_nope/fail')).status).toBe(404);
  });

  it('a currency whose net is negative is not paid out', async () => {
    const eur = await pay(2000, 'eur');
    env.emu.runPayouts({ currency: 'eur' });
    const back = await refund(eur); // after the payout: eur now owes 2000
    const usd = await pay(1000);

    const run = env.emu.runPayouts();
    expect(run.map((p) => [p.currency, p.amount])).toEqual([['usd', (await chargeTxn(usd)).net]]);
    const owed = await env.stripe.balanceTransactions.retrieve(back.balance_transaction as string);
    expect(owed.status).toBe('available');
    expect(await balanceOf('eur')).toEqual({ available: -2000, pending: 0 });

    // a currency run leaves the others pending
    const later = await pay(800);
    const eur2 = await pay(5000, 'eur');
    const [eurPo, ...none] = env.emu.runPayouts({ currency: 'eur' });
    expect(none).toEqual([]);
    expect(eurPo!.amount).toBe((await chargeTxn(eur2)).net - 2000);
    expect((await inPayout(eurPo!.id)).map((t) => t.id)).toContain(owed.id);
    expect((await chargeTxn(later)).status).toBe('pending');
  });

  it('listing by an unknown payout is a 404', async () => {
    const err = await stripeError(env.stripe.balanceTransactions.list({ payout: 'po_x' }));
    expect(err.statusCode).toBe(404);
    expect(err.code).toBe('resource_missing');
    expect(err.param).toBe('payout');
    expect(err.message).toBe("No such payout: 'po_x'");
    expect((await stripeError(env.stripe.payouts.retrieve('po_x'))).statusCode).toBe(404);
  });

  it('sends payout.created, payout.paid, then payout.reconciliation_completed to the webhook endpoint, signed', async () => {
    await pay(2599);
    const [po] = await runOverHttp();
    await waitFor(() => hook.received.length >= 3, 3000, 'three payout events');
    await env.emu.webhooksIdle();
    for (const r of hook.received) env.stripe.webhooks.constructEvent(r.body, r.signature, hookSecret);
    expect(hook.types().sort()).toEqual(['payout.created', 'payout.paid', 'payout.reconciliation_completed']);

    const events = (await env.stripe.events.list({ type: 'payout.*' })).data.reverse();
    expect(events.map((e) => e.type)).toEqual([
      'payout.created',
      'payout.paid',
      'payout.reconciliation_completed',
    ]);
    const snap = events.map((e) => e.data.object as Stripe.Payout);
    expect(snap.map((p) => p.id)).toEqual([po!.id, po!.id, po!.id]);
    expect(snap.map((p) => [p.status, p.reconciliation_status])).toEqual([
      ['pending', 'in_progress'],
      ['paid', 'in_progress'],
      ['paid', 'completed'],
    ]);
    expect(events[1]!.data.previous_attributes).toEqual({ status: 'pending' });
    expect(events[2]!.data.previous_attributes).toEqual({ reconciliation_status: 'in_progress' });
  });

  it('manual payouts draw on the available balance and cannot be listed by payout', async () => {
    const pi = await pay(3000);
    const short = await stripeError(env.stripe.payouts.create({ amount: 100, currency: 'usd' }));
    expect(short.statusCode).toBe(400);
    expect(short.code).toBe('balance_insufficient');

    const net = (await chargeTxn(pi)).net;
    env.emu.runPayouts({ status: 'failed' }); // the bank returns the funds: now they are available
    const manual = await env.stripe.payouts.create({
      amount: 1000,
      currency: 'usd',
      metadata: { batch: 'b1' },
    });
    expect(manual).toEqual(
      expect.objectContaining({
        automatic: false,
        status: 'pending',
        reconciliation_status: 'not_applicable',
        metadata: { batch: 'b1' },
      }),
    );
    expect(await balanceOf('usd')).toEqual({ available: net - 1000, pending: 0 });
    const own = await env.stripe.balanceTransactions.retrieve(manual.balance_transaction as string);
    expect(own).toEqual(
      expect.objectContaining({ type: 'payout', amount: -1000, net: -1000, source: manual.id }),
    );

    const err = await stripeError(env.stripe.balanceTransactions.list({ payout: manual.id }));
    expect(err.statusCode).toBe(400);
    expect(err.type).toBe('StripeInvalidRequestError');
    expect(err.param).toBe('payout');
    expect(err.message).toContain('automatic payouts');

    await waitFor(
      async () => (await env.stripe.payouts.retrieve(manual.id)).status === 'paid',
      3000,
      'manual payout paid',
    );
    const over = await stripeError(env.stripe.payouts.create({ amount: net, currency: 'usd' }));
    expect(over.code).toBe('balance_insufficient');
  });

  it('validates admin runs like the other admin routes, and keeps payouts behind the secret key', async () => {
    for (const body of [
      { when: 'now' },
      { currency: 'USD' },
      { currency: 'dollars' },
      { status: 'pending' },
    ]) {
      const res = await env.admin('POST', '/_emulator/payouts', body);
      expect(res.status).toBe(400);
      expect(res.body.error.type).toBe('invalid_request_error');
    }
    expect(() => env.emu.runPayouts({ status: 'canceled' as 'paid' })).toThrow(/status/);
    const browserErr = await stripeError(env.browser.payouts.list());
    expect(browserErr.statusCode).toBe(401);
  });
});
