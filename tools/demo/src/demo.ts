import { mintToken, type Role } from '@omnipay/auth';
import { Topics } from '@omnipay/contracts';
import { TopicRecorder, testKafka, type RecordedMessage } from '@omnipay/testing';
import Stripe from 'stripe';
import { PORTS, type Stack } from '@omnipay/testing';

const GATEWAY = `http://127.0.0.1:${PORTS.gateway}`;
const ORDERS = `http://127.0.0.1:${PORTS.orders}`;
const c = { bold: (s: string) => `\x1b[1m${s}\x1b[0m`, dim: (s: string) => `\x1b[2m${s}\x1b[0m`, green: (s: string) => `\x1b[32m${s}\x1b[0m` };

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export class Demo {
  private readonly recorder: TopicRecorder;
  private readonly browser: Stripe;

  constructor(private readonly stack: Stack) {
    const topics = [Topics.paymentsEvents, Topics.ordersEvents, Topics.inventoryEvents, Topics.loyaltyEvents, Topics.financeReconciliation];
    this.recorder = new TopicRecorder(testKafka(stack.engines.KAFKA_BROKERS), topics);
    // What a browser or the mobile SDK holds: the publishable key only.
    this.browser = new Stripe(stack.emulator.publishableKey, { ...(stack.emulator.stripeConfig as object), maxNetworkRetries: 0 });
  }

  token(sub: string, role: Role, extra: { storeId?: string; channel?: 'app' | 'web' | 'pos' } = {}): string {
    return mintToken({ sub, role, ...extra, ttlSeconds: 12 * 3600 }, this.stack.secrets.jwt);
  }

  async api(token: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
    const res = await fetch(`${GATEWAY}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
  }

  private say(step: string): void {
    console.log(`\n${c.bold(`▶ ${step}`)}`);
  }

  private show(label: string, value: unknown): void {
    console.log(`  ${label.padEnd(22)} ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }

  async waitForOrder(token: string, orderId: string, statuses: string[], timeoutMs = 20000): Promise<Json> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await this.api(token, 'GET', `/v1/orders/${orderId}`);
      if (statuses.includes(body.status as string) || Date.now() > deadline) return body;
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  private eventsFor(orderId: string, customerId?: string): RecordedMessage[] {
    return this.recorder.messages.filter((m) => {
      const data = (m.json?.data ?? {}) as Json;
      return data.orderId === orderId || (customerId && m.topic === Topics.loyaltyEvents && data.orderId === orderId);
    });
  }

  private readonly printed = new Set<string>();

  /** The events of one order on every topic, each printed once across the demo. */
  private printEvents(orderId: string): void {
    for (const m of this.eventsFor(orderId)) {
      const key = `${m.topic}:${m.partition}:${m.offset}`;
      if (this.printed.has(key)) continue;
      this.printed.add(key);
      const data = (m.json?.data ?? {}) as Json;
      const detail =
        m.topic === Topics.inventoryEvents
          ? `${data.change} ${data.quantity} × ${data.sku} @ ${data.locationId}`
          : m.topic === Topics.loyaltyEvents
            ? `${data.points > 0 ? '+' : ''}${data.points} points (balance ${data.balance})`
            : m.topic === Topics.financeReconciliation
              ? `${data.kind}: gross ${data.gross} fee ${data.fee} net ${data.net} ${data.currency}`
              : m.topic === Topics.ordersEvents && data.to
                ? `${data.from} → ${data.to}`
                : '';
      console.log(c.dim(`    kafka ${m.topic.padEnd(26)} ${String(m.json?.type).padEnd(26)} ${detail}`));
    }
  }

  private async stock(sku: string, locationId: string): Promise<Json> {
    const res = await fetch(`${ORDERS}/inventory/stock?sku=${sku}&locationId=${locationId}`);
    const body = (await res.json()) as { stock: Json[] };
    return body.stock[0] ?? {};
  }

  private async settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 1500));
  }

  async run(): Promise<void> {
    await this.recorder.start();
    // Fresh customers each run: the platform's data outlives a demo run (Ctrl-C, then `npm start` again).
    const run = Date.now().toString(36);
    const alice = this.token(`cust_alice_${run}`, 'customer', { channel: 'web' });
    const bob = this.token(`cust_bob_${run}`, 'customer', { channel: 'app' });
    const carol = this.token(`cust_carol_${run}`, 'customer', { channel: 'web' });
    const admin = this.token('ops_admin', 'admin');

    // 1. Web purchase
    this.say('1. Web purchase: Alice buys 2 T-shirts and a mug, shipped (card 4242, pm_card_visa)');
    const stockBefore = await this.stock('TSHIRT-BLK-M', 'online_fc');
    const checkout = await this.api(alice, 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'TSHIRT-BLK-M', quantity: 2 }, { sku: 'MUG-WHT', quantity: 1 }] }, { 'idempotency-key': `demo-${Date.now()}` });
    this.show('checkout', `${checkout.status} order ${checkout.body.orderId}, ${checkout.body.amount} ${checkout.body.currency} (priced by the server)`);
    const tamper = await this.api(alice, 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'TSHIRT-BLK-M', quantity: 2, unitAmount: 1 }] });
    this.show('client-set price', `${tamper.status} ${tamper.body.message}`);
    await this.browser.paymentIntents.confirm(checkout.body.paymentIntentId, { payment_method: 'pm_card_visa', client_secret: checkout.body.clientSecret } as Stripe.PaymentIntentConfirmParams);
    const paid = await this.waitForOrder(alice, checkout.body.orderId, ['paid']);
    await this.settle();
    this.show('order', paid.status);
    this.show('stock T-shirt @online', `${stockBefore.onHand ?? '?'} → ${(await this.stock('TSHIRT-BLK-M', 'online_fc')).onHand}`);
    this.show('Alice points', (await this.api(alice, 'GET', '/v1/me/loyalty')).body.balance);
    this.printEvents(checkout.body.orderId);

    // 2. App purchase with a saved card
    this.say('2. App purchase: Bob saves a card (SetupIntent), then pays with it');
    await this.api(bob, 'POST', '/v1/me/customer');
    const setup = await this.api(bob, 'POST', '/v1/me/setup-intents', undefined, { 'idempotency-key': `demo-setup-${Date.now()}` });
    if (setup.status !== 201) throw new Error(`setup intent: ${setup.status} ${JSON.stringify(setup.body)}`);
    await this.browser.setupIntents.confirm(setup.body.setupIntentId, { payment_method: 'pm_card_mastercard', client_secret: setup.body.clientSecret } as Stripe.SetupIntentConfirmParams);
    await this.settle();
    const cards = await this.api(bob, 'GET', '/v1/me/payment-methods');
    const saved = ((cards.body.cards ?? []) as Json[])[0] ?? {};
    this.show('saved card', `${saved.brand} •••• ${saved.last4} (${saved.paymentMethodId})`);
    const appCheckout = await this.api(bob, 'POST', '/v1/checkout', { fulfilment: 'pickup', storeId: 'store_berlin', currency: 'eur', lines: [{ sku: 'HOODIE-GRY-L', quantity: 1 }] }, { 'idempotency-key': `demo-app-${Date.now()}` });
    await this.browser.paymentIntents.confirm(appCheckout.body.paymentIntentId, { payment_method: saved.paymentMethodId, client_secret: appCheckout.body.clientSecret } as Stripe.PaymentIntentConfirmParams);
    const appPaid = await this.waitForOrder(bob, appCheckout.body.orderId, ['paid']);
    await this.settle();
    this.show('order', `${appPaid.status}, pickup at ${appPaid.storeId}`);
    this.show('Bob points', (await this.api(bob, 'GET', '/v1/me/loyalty')).body.balance);
    this.printEvents(appCheckout.body.orderId);

    // 3. Declined card, retried
    this.say('3. Declined card retried: Carol is declined (pm_card_chargeDeclined), then pays with another card');
    const carolCheckout = await this.api(carol, 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'CAP-NVY', quantity: 1 }] });
    try {
      await this.browser.paymentIntents.confirm(carolCheckout.body.paymentIntentId, { payment_method: 'pm_card_chargeDeclined', client_secret: carolCheckout.body.clientSecret } as Stripe.PaymentIntentConfirmParams);
    } catch (error) {
      this.show('Stripe said', `${(error as Stripe.errors.StripeError).code} / ${(error as Stripe.errors.StripeError).decline_code}`);
    }
    await this.settle();
    this.show('order after decline', (await this.api(carol, 'GET', `/v1/orders/${carolCheckout.body.orderId}`)).body.status);
    await this.browser.paymentIntents.confirm(carolCheckout.body.paymentIntentId, { payment_method: 'pm_card_visa', client_secret: carolCheckout.body.clientSecret } as Stripe.PaymentIntentConfirmParams);
    this.show('order after retry', (await this.waitForOrder(carol, carolCheckout.body.orderId, ['paid'])).status);
    await this.settle();
    this.printEvents(carolCheckout.body.orderId);

    // 4. Partial refund
    this.say("4. Partial refund: one of Alice's T-shirts comes back (refunded by an admin)");
    const refund = await this.api(admin, 'POST', `/v1/orders/${checkout.body.orderId}/refunds`, { amount: 2500, items: [{ sku: 'TSHIRT-BLK-M', quantity: 1 }] }, { 'idempotency-key': `demo-refund-${Date.now()}` });
    this.show('refund', `${refund.status} ${refund.body.amount ?? ''} ${refund.body.status ?? refund.body.message ?? ''}`);
    const refunded = await this.waitForOrder(alice, checkout.body.orderId, ['partially_refunded', 'refunded']);
    await this.settle();
    this.show('order', `${refunded.status}, refunded ${refunded.payment?.amountRefunded} of ${refunded.total}`);
    this.show('Alice points', (await this.api(alice, 'GET', '/v1/me/loyalty')).body.balance);
    this.printEvents(checkout.body.orderId);

    // 5. In-store purchase on a card reader
    this.say('5. In store: a Berlin cashier sells two mugs to Dana (loyalty card) on a simulated Terminal reader');
    const cashier = this.token('cashier_berlin', 'cashier', { storeId: 'store_berlin' });
    const manager = this.token('manager_berlin', 'manager', { storeId: 'store_berlin' });
    await this.api(admin, 'POST', '/v1/admin/stores', {
      id: 'store_berlin',
      displayName: 'Berlin Mitte',
      address: { line1: 'Torstr. 1', city: 'Berlin', postalCode: '10119', country: 'DE' },
    });
    const reader = await this.api(manager, 'POST', '/v1/pos/readers', { registrationCode: 'simulated-wpe', label: `Till ${run}` });
    this.show('reader', `${reader.status} ${reader.body.readerId} (${reader.body.stripeReaderId})`);
    const dana = `cust_dana_${run}`;
    const mugsBefore = await this.stock('MUG-WHT', 'store_berlin');
    const posOrder = await this.api(cashier, 'POST', '/v1/pos/orders', { currency: 'eur', customerId: dana, lines: [{ sku: 'MUG-WHT', quantity: 2 }] });
    this.show('POS order', `${posOrder.status} ${posOrder.body.id}, ${posOrder.body.total} ${posOrder.body.currency}`);
    const action = await this.api(cashier, 'POST', `/v1/pos/orders/${posOrder.body.id}/pay`, { readerId: reader.body.readerId });
    this.show('reader action', `${action.status} ${action.body.status} (the cart is on the reader's display)`);
    // The customer taps a card: the emulator's test helper plays the card on the simulated reader.
    const terminalSide = new Stripe(this.stack.emulator.secretKey, { ...(this.stack.emulator.stripeConfig as object), maxNetworkRetries: 0 });
    await terminalSide.testHelpers.terminal.readers.presentPaymentMethod(reader.body.stripeReaderId);
    const posPaid = await this.waitForOrder(cashier, posOrder.body.id, ['paid']);
    await this.settle();
    this.show('order', `${posPaid.status} (captured by the terminal service after the reader succeeded)`);
    this.show('stock mugs @Berlin', `${mugsBefore.onHand} → ${(await this.stock('MUG-WHT', 'store_berlin')).onHand}`);
    this.show('Dana points', (await this.api(this.token(dana, 'customer'), 'GET', '/v1/me/loyalty')).body.balance);
    this.printEvents(posOrder.body.id);

    // 6. Buy online, pick up in store
    this.say("6. Pick-up: Bob's app order waits in Berlin's pickup list; a cashier hands it over");
    const pickups = await this.api(cashier, 'GET', '/v1/orders?status=paid');
    const inList = ((pickups.body.orders ?? []) as Json[]).some((o) => o.id === appCheckout.body.orderId);
    this.show('in pickup list', inList ? 'yes' : 'no');
    await this.api(cashier, 'POST', `/v1/orders/${appCheckout.body.orderId}/ready-for-pickup`);
    const handed = await this.api(cashier, 'POST', `/v1/orders/${appCheckout.body.orderId}/picked-up`);
    this.show('order', `${handed.body.status ?? handed.status}`);
    const paris = await this.api(this.token('cashier_paris', 'cashier', { storeId: 'store_paris' }), 'GET', `/v1/orders/${appCheckout.body.orderId}`);
    this.show('a Paris cashier sees', `${paris.status} (someone else's order is not found, not forbidden)`);
    await this.settle();
    this.printEvents(appCheckout.body.orderId);

    // 7. A refund that fails later
    this.say("7. Refund failing later: Carol's cap is refunded, then Stripe reports the refund failed (closed card)");
    const carolRefund = await this.api(admin, 'POST', `/v1/orders/${carolCheckout.body.orderId}/refunds`, {}, { 'idempotency-key': `demo-refund-carol-${Date.now()}` });
    this.show('refund', `${carolRefund.status} ${carolRefund.body.amount ?? ''} ${carolRefund.body.status ?? carolRefund.body.message ?? ''}`);
    const carolRefunded = await this.waitForOrder(carol, carolCheckout.body.orderId, ['refunded']);
    await this.settle();
    this.show('order', `${carolRefunded.status}; Carol points ${(await this.api(carol, 'GET', '/v1/me/loyalty')).body.balance}`);
    // Days later in real life; the emulator's admin route plays it now (refund.failed, money back to the merchant).
    await fetch(`${this.stack.emulator.url}/_emulator/refunds/${carolRefund.body.refundId}/fail`, { method: 'POST' });
    const carolOwed = await this.waitForOrder(carol, carolCheckout.body.orderId, ['refund_failed']);
    await this.settle();
    this.show('order', `${carolOwed.status}, refunded ${carolOwed.payment?.amountRefunded} of ${carolOwed.total} (staff must refund again)`);
    this.show('Carol points', `${(await this.api(carol, 'GET', '/v1/me/loyalty')).body.balance} (given back)`);
    this.printEvents(carolCheckout.body.orderId);

    // 8. A cancelled checkout
    this.say('8. Cancelled checkout: Erin checks out a hoodie, then cancels before paying');
    const erin = this.token(`cust_erin_${run}`, 'customer', { channel: 'web' });
    const hoodiesBefore = await this.stock('HOODIE-GRY-L', 'online_fc');
    const erinCheckout = await this.api(erin, 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'HOODIE-GRY-L', quantity: 1 }] }, { 'idempotency-key': `demo-erin-${Date.now()}` });
    this.show('checkout', `${erinCheckout.status} order ${erinCheckout.body.orderId}; stock held: ${hoodiesBefore.reserved ?? '?'} → ${(await this.stock('HOODIE-GRY-L', 'online_fc')).reserved} reserved`);
    const cancelled = await this.api(erin, 'POST', `/v1/orders/${erinCheckout.body.orderId}/cancel`);
    this.show('cancel', `${cancelled.status} ${cancelled.body.status}; reserved back to ${(await this.stock('HOODIE-GRY-L', 'online_fc')).reserved}`);
    const stripeSide = new Stripe(this.stack.emulator.secretKey, { ...(this.stack.emulator.stripeConfig as object), maxNetworkRetries: 0 });
    let intent = await stripeSide.paymentIntents.retrieve(erinCheckout.body.paymentIntentId);
    for (let i = 0; i < 50 && intent.status !== 'canceled'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      intent = await stripeSide.paymentIntents.retrieve(erinCheckout.body.paymentIntentId);
    }
    this.show('PaymentIntent', `${intent.status} (${intent.cancellation_reason}), cancelled by payments when the order was`);
    try {
      await this.browser.paymentIntents.confirm(erinCheckout.body.paymentIntentId, { payment_method: 'pm_card_visa', client_secret: erinCheckout.body.clientSecret } as Stripe.PaymentIntentConfirmParams);
      this.show('paying it now', 'accepted (unexpected)');
    } catch (error) {
      this.show('paying it now', `refused by Stripe: ${(error as Stripe.errors.StripeError).code}`);
    }
    await this.settle();
    this.printEvents(erinCheckout.body.orderId);

    // 9. An order paid twice
    this.say('9. Paid twice: Gus pays a mug order in two tabs; the order keeps the first payment, the second is refunded');
    const gus = this.token(`cust_gus_${run}`, 'customer', { channel: 'web' });
    const gusCheckout = await this.api(gus, 'POST', '/v1/checkout', { fulfilment: 'ship', currency: 'usd', lines: [{ sku: 'MUG-WHT', quantity: 1 }] }, { 'idempotency-key': `demo-gus-${Date.now()}` });
    // The second tab's attempt, as a client retrying after a lost answer would get it.
    const secondTab = await fetch(`${this.stack.urls.payments}/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ orderId: gusCheckout.body.orderId, amount: gusCheckout.body.amount, currency: 'usd', channel: 'web', customerId: `cust_gus_${run}`, attempt: 2 }),
    });
    const gusSecond = (await secondTab.json()) as Json;
    for (const [pi, secret] of [
      [gusCheckout.body.paymentIntentId, gusCheckout.body.clientSecret],
      [gusSecond.paymentIntentId, gusSecond.clientSecret],
    ] as [string, string][])
      await this.browser.paymentIntents.confirm(pi, { payment_method: 'pm_card_visa', client_secret: secret } as Stripe.PaymentIntentConfirmParams);
    // The order keeps the success the orders service applied first (the two PaymentIntents' events travel apart).
    const gusOrder = await this.waitForOrder(gus, gusCheckout.body.orderId, ['paid']);
    const kept = String(gusOrder.payment?.paymentIntentId);
    const other = kept === String(gusCheckout.body.paymentIntentId) ? String(gusSecond.paymentIntentId) : String(gusCheckout.body.paymentIntentId);
    let otherCharge = (await stripeSide.paymentIntents.retrieve(other, { expand: ['latest_charge'] })).latest_charge as Stripe.Charge | null;
    for (let i = 0; i < 100 && !otherCharge?.refunded; i++) {
      await new Promise((r) => setTimeout(r, 100));
      otherCharge = (await stripeSide.paymentIntents.retrieve(other, { expand: ['latest_charge'] })).latest_charge as Stripe.Charge | null;
    }
    await this.settle();
    this.show('order', `${gusOrder.status}, paid by ${kept} (the payment that reached it first)`);
    this.show('other payment', `${other}: ${otherCharge?.amount_refunded ?? 0} of ${otherCharge?.amount ?? '?'} refunded (reason duplicate)`);
    this.show('Gus points', `${(await this.api(gus, 'GET', '/v1/me/loyalty')).body.balance} (once)`);
    this.printEvents(gusCheckout.body.orderId);

    const fin = this.token('fin_frank', 'finance');
    const finance = await this.api(fin, 'GET', '/v1/finance/reconciliation');
    this.say(`Finance: ${((finance.body.data ?? finance.body.entries ?? []) as Json[]).length} reconciliation entries so far`);
    const day = new Date().toISOString().slice(0, 10);
    const totals = await this.api(fin, 'GET', `/v1/finance/reconciliation/summary?day=${day}`);
    for (const t of (totals.body.currencies ?? []) as Json[]) {
      this.show(`${day} ${t.currency}`, `${t.entries} entries: gross ${t.gross}, fee ${t.fee}, net ${t.net}`);
    }
    // The audit payments runs every night for the day before, asked for now for today (decision 0016).
    const asked = await this.api(fin, 'POST', '/v1/finance/reconciliation/audits', { day });
    let audit = asked.body;
    for (let i = 0; i < 100 && !(audit.status === 'done' && (audit.runs as number) > (asked.body.runs as number)); i++) {
      await new Promise((r) => setTimeout(r, 100));
      audit = (await this.api(fin, 'GET', `/v1/finance/reconciliation/audits/${day}`)).body;
    }
    const result = (audit.result ?? {}) as { stripeTransactions?: number; problems?: Record<string, number>; currencies?: Json[] };
    this.say(`Finance: audit of ${day} against Stripe's balance transactions: ${audit.outcome ?? audit.status}`);
    for (const cur of result.currencies ?? []) {
      const stripe = cur.stripe as Json;
      const diff = cur.difference as Json;
      this.show(
        `${cur.currency} Stripe vs entries`,
        `${stripe.count} transactions, net ${stripe.net}; entries minus Stripe: gross ${diff.gross}, fee ${diff.fee}, net ${diff.net}`,
      );
    }
    const problems = Object.entries(result.problems ?? {}).filter(([, n]) => n > 0);
    this.show('problems', problems.length ? problems.map(([p, n]) => `${p} ${n}`).join(', ') : 'none');

    // Stripe's payout schedule, run now by the emulator: each currency's balance goes to the bank (decision 0019).
    const payoutRun = await fetch(`${this.stack.emulator.url}/_emulator/payouts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    const paidOut = ((await payoutRun.json()) as { data?: Json[] }).data ?? [];
    this.say(`Finance: Stripe pays the balance out (${paidOut.length} payout${paidOut.length === 1 ? '' : 's'}); payments matches each with its transactions`);
    for (const p of paidOut) {
      let view: Json = {};
      for (let i = 0; i < 150; i++) {
        view = (await this.api(fin, 'GET', `/v1/finance/payouts/${p.id}`)).body;
        if ((view.reconciliation as Json | undefined)?.state === 'done') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const rec = (view.reconciliation ?? {}) as Json;
      const r = (rec.result ?? {}) as Json;
      const platform = (r.platform ?? {}) as Json;
      const kinds = Object.entries((platform.byKind ?? {}) as Record<string, Json>).map(([k, t]) => `${t.count} ${k}`).join(', ');
      this.show(
        `${p.id} ${p.currency} ${p.amount}`,
        `${rec.outcome ?? rec.state}: ${(r.lines as Json | undefined)?.count ?? '?'} lines (${kinds || 'none of ours'}), payout minus lines ${r.difference ?? '?'}`,
      );
    }
    await this.recorder.stop();
    console.log(`\n${c.green('Demo finished.')}`);
  }
}
