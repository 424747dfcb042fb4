/**
 * A Stripe event can reopen a reconciliation source (a dispute that gained a balance transaction) while the
 * worker is between its claim and the transaction that closes the source. This suite reproduces that race on the
 * real PostgreSQL against the Stripe emulator: the worker's dispute read is held, after Stripe answered it, until
 * the reopen has committed. The pass must neither close nor push back the reopened source with what it read
 * before, so a following pass fetches the new balance transaction and writes its entry, once.
 */
import { randomUUID } from 'node:crypto';
import { StripeEventReceived, Topics } from '@omnipay/contracts';
import { OutboxService, UnitOfWork, type ConsumedMessage, type MessagingSettings } from '@omnipay/messaging';
import { JsonLogger, createLogger } from '@omnipay/observability';
import { StripeEventScope } from '@omnipay/stripe';
import { startEmulator, type EmulatorHandle } from '@omnipay/stripe-emulator';
import { TestDatabase, engines, eventually, uniqueName } from '@omnipay/testing';
import Stripe from 'stripe';
import type { DataSource } from 'typeorm';
import { paymentsSchema, stripeEventEnvelope } from './harness';
import type { PaymentsConfig } from '../src/config';
import { PaymentStateService } from '../src/payments/payment-state.service';
import { PaymentsRepository } from '../src/payments/payments.repository';
import { ReconciliationWorker } from '../src/reconciliation/reconciliation.worker';
import type { PayoutsService } from '../src/payouts/payouts.service';
import { StripeEventsConsumer } from '../src/stripe-events/stripe-events.consumer';

/**
 * Holds the next dispute read of a Stripe client once Stripe has answered it: `answered` resolves then (the
 * worker has what it will write), the read returns (or throws `failWith`) when `release` is called.
 */
function gateDisputeReads(api: Stripe) {
  const real = api.disputes.retrieve.bind(api.disputes) as (...args: unknown[]) => Promise<Stripe.Dispute>;
  let held: { answered: () => void; released: Promise<void>; failWith?: Error } | undefined;
  let releaseHeld = () => undefined as void;
  (api.disputes as unknown as { retrieve: unknown }).retrieve = async (...args: unknown[]) => {
    const dispute = await real(...args);
    const h = held;
    held = undefined;
    if (h) {
      h.answered();
      await h.released;
      if (h.failWith) throw h.failWith;
    }
    return dispute;
  };
  return {
    hold(failWith?: Error): { answered: Promise<void>; release: () => void } {
      let answered!: () => void;
      const answeredP = new Promise<void>((r) => (answered = r));
      const released = new Promise<void>((r) => (releaseHeld = r));
      held = { answered, released, failWith };
      return { answered: answeredP, release: releaseHeld };
    },
    /** Lets a held read go and disarms the gate (after a failed test). */
    reset(): void {
      held = undefined;
      releaseHeld();
    },
  };
}

describe('Reconciliation of a source reopened while the worker reads Stripe', () => {
  const db = new TestDatabase(engines().databaseUrl);
  const schema = uniqueName('pay_recon_reopen');
  const q = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) =>
    db.query<T>(sql.replaceAll('§', `"${schema}"`), params);
  const logger = new JsonLogger(createLogger('payments', 'silent'));
  const outbox = new OutboxService({ service: 'payments' } as MessagingSettings);
  const repo = new PaymentsRepository();
  // The worker is driven pass by pass here: the consumer's nudge must not start passes of its own.
  const consumer = new StripeEventsConsumer(
    new PaymentStateService(repo, outbox, logger),
    outbox,
    { soon: () => undefined } as unknown as ReconciliationWorker,
    {} as PayoutsService, // no payout events here
    logger,
    new StripeEventScope('sk_test_reopen'),
  );
  let ds: DataSource;
  let emu: EmulatorHandle;
  /** the test's own client (plays Stripe's Dashboard) */
  let stripe: Stripe;
  let gate: ReturnType<typeof gateDisputeReads>;
  let worker: ReconciliationWorker;
  /** the pass a test started and holds */
  let pass: Promise<number> | undefined;

  beforeAll(async () => {
    ds = await paymentsSchema(schema);
    emu = await startEmulator({ port: 0 });
    const sdk = () =>
      new Stripe(emu.secretKey, { ...emu.stripeConfig, maxNetworkRetries: 0, telemetry: false });
    stripe = sdk();
    const workerStripe = sdk();
    gate = gateDisputeReads(workerStripe);
    worker = new ReconciliationWorker(ds, new UnitOfWork(ds, outbox), outbox, logger, workerStripe, {
      RECONCILIATION_POLL_MS: 500,
      RECONCILIATION_LEASE_MS: 60_000,
    } as PaymentsConfig);
  });
  // A test that failed midway must not leave a held pass or a due source to the next one.
  afterEach(async () => {
    gate.reset();
    await pass?.catch(() => undefined);
    pass = undefined;
    await q(
      `UPDATE §.reconciliation_sources SET next_attempt_at = now() + interval '1 day' WHERE done_at IS NULL`,
    );
  });
  afterAll(async () => {
    await emu?.close();
    await ds?.destroy();
    await db.dropSchema(schema);
    await db.close();
  });

  /** A payment of ours paid with a card that gets disputed; resolves once Stripe has opened the dispute. */
  async function disputedPayment(): Promise<{ paymentId: string; dispute: Stripe.Dispute }> {
    const paymentId = `pay_${randomUUID()}`;
    const pi = await stripe.paymentIntents.create({
      amount: 2000,
      currency: 'usd',
      capture_method: 'automatic',
      payment_method: 'pm_card_createDispute',
      confirm: true,
    });
    await q(
      `INSERT INTO §.payments (id, order_id, attempt, channel, amount, currency, capture_method, payment_intent_id, charge_id, status)
       VALUES ($1, $2, 1, 'web', 2000, 'usd', 'automatic', $3, $4, 'succeeded')`,
      [paymentId, `ord_${paymentId}`, pi.id, pi.latest_charge],
    );
    const disputes = await eventually(
      () => stripe.disputes.list({ payment_intent: pi.id }),
      (l) => l.data.length === 1,
      { timeoutMs: 5000, what: `the dispute of ${pi.id}` },
    );
    return { paymentId, dispute: disputes.data[0] };
  }

  /** The dispute is won: Stripe gives the money and the fee back, one more balance transaction on the dispute. */
  function reinstate(disputeId: string): string {
    const store = emu.emulator.store;
    const dp = store.disputes.get(disputeId);
    if (!dp) throw new Error(`no dispute ${disputeId} on the emulator`);
    const created = Math.floor(Date.now() / 1000);
    const txn = store.balanceTransactions.insert({
      id: `txn_${randomUUID().replaceAll('-', '')}`,
      object: 'balance_transaction',
      amount: dp.amount,
      fee: -1500,
      net: dp.amount + 1500,
      currency: dp.currency,
      created,
      available_on: created + 2 * 86_400,
      type: 'adjustment',
      reporting_category: 'dispute_reversal',
      source: dp.id,
      status: 'pending',
    });
    dp.balance_transactions = [...(dp.balance_transactions as unknown[]), txn];
    dp.status = 'won';
    return txn.id;
  }

  /** Hands a Stripe event to the payments consumer, as the transport would (one chunk, its own transaction). */
  async function deliver(event: Stripe.Event): Promise<void> {
    const env = stripeEventEnvelope(event);
    await ds.transaction((m) => {
      const message: ConsumedMessage = {
        envelope: env,
        definition: StripeEventReceived,
        topic: Topics.stripeEvents,
        partition: 0,
        offset: '0',
        attempt: 1,
        manager: m,
      };
      return consumer.handle({ messages: [message], manager: m });
    });
  }

  /** The emulator's own `charge.dispute.created` for this dispute. */
  async function disputeCreated(disputeId: string): Promise<Stripe.Event> {
    const events = await stripe.events.list({ type: 'charge.dispute.created', limit: 100 });
    const event = events.data.find((e) => (e.data.object as { id: string }).id === disputeId);
    if (!event) throw new Error(`no charge.dispute.created for ${disputeId}`);
    return event;
  }

  /** `charge.dispute.funds_reinstated` (the emulator has no won disputes): the dispute as Stripe now shows it. */
  async function fundsReinstated(disputeId: string): Promise<Stripe.Event> {
    const dispute = await stripe.disputes.retrieve(disputeId);
    return {
      id: `evt_${randomUUID().replaceAll('-', '')}`,
      object: 'event',
      type: 'charge.dispute.funds_reinstated',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      api_version: emu.apiVersion,
      pending_webhooks: 0,
      request: { id: null, idempotency_key: null },
      data: { object: dispute },
    } as Stripe.Event;
  }

  async function source(sourceId: string) {
    const [row] = await q<{
      done: boolean;
      generation: number;
      attempts: number;
      last_error: string | null;
      due: boolean;
    }>(
      `SELECT done_at IS NOT NULL AS done, generation, attempts, last_error, next_attempt_at <= now() AS due
         FROM §.reconciliation_sources WHERE source_id = $1`,
      [sourceId],
    );
    return row;
  }

  /** Entries and their messages of one source: balance transaction ids, as many times as they were written. */
  async function written(sourceId: string): Promise<{ entries: string[]; messages: string[] }> {
    const entries = await q<{ entry_id: string }>(
      'SELECT entry_id FROM §.reconciliation_entries WHERE source_id = $1 ORDER BY entry_id',
      [sourceId],
    );
    const messages = await q<{ entry_id: string }>(
      `SELECT payload::jsonb->'data'->>'entryId' AS entry_id FROM §.outbox
        WHERE topic = $1 AND payload::jsonb->'data'->>'sourceId' = $2 ORDER BY 1`,
      [Topics.financeReconciliation, sourceId],
    );
    return { entries: entries.map((e) => e.entry_id), messages: messages.map((m) => m.entry_id) };
  }

  it('does not close a dispute reopened by a Stripe event during its pass, and the next pass writes the new balance transaction once', async () => {
    const { dispute } = await disputedPayment();
    const [withdrawal] = dispute.balance_transactions.map((t) => (typeof t === 'string' ? t : t.id));
    await deliver(await disputeCreated(dispute.id));
    expect(await source(dispute.id)).toMatchObject({ done: false, generation: 0, due: true });

    // The pass claims the dispute and reads it from Stripe (one balance transaction), then waits.
    const held = gate.hold();
    pass = worker.runOnce();
    await held.answered;
    // Meanwhile the dispute is won: a new balance transaction, and its event reopens the source.
    const reinstatement = reinstate(dispute.id);
    await deliver(await fundsReinstated(dispute.id));
    held.release();
    expect(await pass).toBe(1);
    // What the pass read is written; closing the source with it would lose the reinstatement for good.
    expect(await written(dispute.id)).toEqual({ entries: [withdrawal], messages: [withdrawal] });

    const both = [withdrawal, reinstatement].sort();
    await eventually(
      async () => {
        await worker.runOnce();
        return written(dispute.id);
      },
      (w) => w.entries.length === 2,
      { timeoutMs: 5000, what: 'the reinstatement entry' },
    );
    expect(await written(dispute.id)).toEqual({ entries: both, messages: both });
    expect(await source(dispute.id)).toMatchObject({ done: true, generation: 1, last_error: null });
    // Done at the latest generation: nothing is claimed or written again.
    expect(await worker.runOnce()).toBe(0);
    expect(await written(dispute.id)).toEqual({ entries: both, messages: both });
  });

  it('does not push back a dispute reopened during a pass whose Stripe read failed, and the next pass reconciles it', async () => {
    const { paymentId, dispute } = await disputedPayment();
    const [withdrawal] = dispute.balance_transactions.map((t) => (typeof t === 'string' ? t : t.id));
    await deliver(await disputeCreated(dispute.id));

    const held = gate.hold(new Error('stripe down'));
    pass = worker.runOnce();
    await held.answered;
    // Reopened through the statement-per-call path (API answers, janitor) this time.
    const reinstatement = reinstate(dispute.id);
    await ds.transaction((m) => repo.enqueueReconciliation(m, dispute.id, 'dispute', paymentId));
    held.release();
    expect(await pass).toBe(1);

    // The failure belongs to the generation that was claimed: the reopened one is due now, with no attempt counted.
    expect(await source(dispute.id)).toMatchObject({
      done: false,
      generation: 1,
      attempts: 0,
      last_error: null,
      due: true,
    });
    expect(await worker.runOnce()).toBe(1);
    const both = [withdrawal, reinstatement].sort();
    expect(await written(dispute.id)).toEqual({ entries: both, messages: both });
    expect(await source(dispute.id)).toMatchObject({
      done: true,
      generation: 1,
      attempts: 0,
      last_error: null,
    });
  });
});
