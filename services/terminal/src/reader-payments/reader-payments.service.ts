import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { UnitOfWork } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import { STRIPE, isAmbiguousStripeError, stripeErrorInfo, stripeIdempotencyKey } from '@omnipay/stripe';
import type Stripe from 'stripe';
import { DataSource, type EntityManager } from 'typeorm';
import { ApiError, conflict, fromStripeError, notFound } from '../common/http-errors';
import { newActionId } from '../common/ids';
import { relayError, UpstreamClient } from '../common/upstream.client';
import type { TerminalConfig } from '../config';
import { ReadersService, type Reader } from '../readers/readers.service';
import { stripeMessage } from '../stores/stores.service';
import { actionView, type ActionView, type ReaderAction } from './reader-action.model';
import type { ReaderActionState } from './reader-action-state';
import { ReaderActionsRepository } from './reader-actions.repository';
import type { StartPaymentBody } from './reader-payments.dto';

/** What we read of payments' payment view (services/payments/src/payments/payment.model.ts). */
export interface PaymentView {
  paymentId: string;
  orderId: string;
  attempt: number;
  status: string;
  amount: number;
  currency: string;
  paymentIntentId: string | null;
  amountCapturable: number;
  amountReceived: number;
}

/** Payment statuses in which a PaymentIntent can (again) be sent to a reader. */
const PROCESSABLE = ['creating', 'requires_payment_method', 'requires_confirmation', 'failed'];

/** `process_payment_intent` failed in a way that leaves open whether the reader got the payment. */
class HandOffUnknown extends Error {
  constructor(readonly stripeError: unknown) {
    super('hand-off to the reader unconfirmed');
  }
}

/**
 * Server-driven payments on readers: reserve the reader in our DB, get the order's in-person PaymentIntent from
 * payments, show the cart, `process_payment_intent`; the reader events (consumer) and the sweeper finish it.
 */
@Injectable()
export class ReaderPaymentsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly repo: ReaderActionsRepository,
    private readonly readers: ReadersService,
    private readonly upstream: UpstreamClient,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: TerminalConfig,
    @Inject(STRIPE) private readonly stripe: Stripe,
  ) {}

  async start(storeId: string, readerId: string, body: StartPaymentBody): Promise<ActionView> {
    const reader = await this.readers.get(storeId, readerId);
    const paid = await this.repo.succeededForOrder(this.dataSource.manager, body.orderId);
    if (paid)
      throw conflict('order_already_paid', `order ${body.orderId} was paid on a reader`, {
        actionId: paid.id,
      });
    const attempt = await this.attemptFor(body.orderId);
    // The row is the reader's lock: a second payment on this reader (or this order elsewhere) stops here, before
    // payments or Stripe are asked for anything.
    const action = await this.uow.run((m) =>
      this.repo.insertPending(m, {
        id: newActionId(),
        readerId: reader.id,
        storeId,
        orderId: body.orderId,
        customerId: body.customerId ?? null,
        amount: body.amount,
        currency: body.currency,
        amountToCapture: body.amountToCapture ?? null,
        attempt,
        deadlineAt: new Date(Date.now() + this.config.READER_ACTION_TIMEOUT_MS),
      }),
    );
    const log = { storeId, readerId, actionId: action.id, orderId: body.orderId, attempt };
    try {
      const payment = await this.paymentFor(action, body);
      // The cashier may have cancelled while payments was asked (the cancel found nothing on the reader and settled
      // the action): then the reader is not sent the payment at all.
      const attached = await this.repo.attachPayment(
        this.dataSource.manager,
        action.id,
        payment.paymentId,
        payment.paymentIntentId!,
      );
      if (!attached) return this.notHandedOff(action, log);
      await this.showCart(reader, body);
      if ((await this.repo.byId(this.dataSource.manager, action.id))?.state !== 'pending') return this.notHandedOff(action, log);
      await this.handOff(reader, action, payment.paymentIntentId!);
      this.logger.pino.info({ ...log, paymentIntentId: payment.paymentIntentId }, 'payment sent to reader');
    } catch (error) {
      if (error instanceof HandOffUnknown) {
        // The reader may yet take the payment: the action stays pending and keeps the reader, and the sweeper asks
        // Stripe what became of it once its grace has passed (the cashier may cancel it before that).
        // The answer is the action as it is, `pending`: the client follows it as it follows any reader payment.
        await this.repo.settleSoon(this.dataSource.manager, action.id);
        this.logger.pino.warn({ ...log, err: stripeMessage(error.stripeError) }, 'the reader may or may not have the payment; settled later');
        const now = (await this.repo.byId(this.dataSource.manager, action.id))!;
        // Cancelled (or timed out) meanwhile: no sweep follows a settled action, so what landed is withdrawn now.
        if (now.state === 'canceled' || now.state === 'timed_out') await this.withdraw(reader, now);
        return actionView(now);
      }
      const apiError = error instanceof ApiError ? error : fromStripeError(error);
      this.logger.pino.warn(
        { ...log, err: apiError?.code ?? stripeMessage(error) },
        'payment could not start on the reader',
      );
      await this.uow.run(async (m) => {
        const a = await this.repo.byId(m, action.id, true);
        if (a?.state === 'pending')
          await this.repo.transition(m, a, 'failed', {
            failureCode: apiError?.code ?? 'start_failed',
            failureMessage: apiError?.message ?? 'the payment could not be started',
          });
      });
      throw apiError ?? error;
    }
    const after = await this.uow.run(async (m) => {
      const a = (await this.repo.byId(m, action.id, true))!;
      // A reader that answered before we got here (event already applied) keeps its newer state.
      return a.state === 'pending' ? ((await this.repo.transition(m, a, 'in_progress')) ?? a) : a;
    });
    if (after.state === 'canceled' || after.state === 'timed_out') await this.withdraw(reader, after);
    return actionView(after);
  }

  private async notHandedOff(action: ReaderAction, log: Record<string, unknown>): Promise<ActionView> {
    const now = (await this.repo.byId(this.dataSource.manager, action.id))!;
    this.logger.pino.info({ ...log, state: now.state }, 'reader action settled before the hand-off; the reader was not sent the payment');
    return actionView(now);
  }

  /**
   * The hand-off reached the reader after the cashier's cancel (or the sweeper) had settled the action, having found
   * nothing on the reader to cancel: the reader now waits for a card that nobody follows and that the cashier was
   * told is cancelled. Cancel it there too, unless the reader already belongs to another action of ours. A tap that
   * wins the race is still recorded and captured (a success overrides a cancel, decision 0022).
   */
  private async withdraw(reader: Reader, action: ReaderAction): Promise<void> {
    const log = { actionId: action.id, readerId: reader.id, orderId: action.orderId, state: action.state };
    const other = await this.repo.activeForReader(this.dataSource.manager, reader.id);
    if (other) return;
    try {
      await this.cancelAtStripe(reader);
      this.logger.pino.warn(log, 'the hand-off landed after the action was settled; cancelled on the reader');
    } catch (error) {
      if (nothingToCancel(error)) return;
      this.logger.pino.error({ ...log, err: stripeMessage(error) }, 'the hand-off landed after the action was settled and could not be cancelled on the reader');
    }
  }

  /**
   * `cancel_action` under a key of its own per attempt: Stripe keeps an error (a 500, a reader briefly offline) under
   * its key and answers every retry with it, and one key per action would make the action uncancellable for a day.
   * A repeat is harmless: it cancels whatever the reader runs, and while our action is active nothing else of ours
   * can run there.
   */
  private cancelAtStripe(reader: Reader) {
    return this.stripe.terminal.readers.cancelAction(
      reader.stripeReaderId,
      {},
      { idempotencyKey: stripeIdempotencyKey('terminal.reader.cancel', reader.id, randomUUID()) },
    );
  }

  /**
   * `process_payment_intent`. Its answer can be lost after Stripe acted on it (a timeout, a 5xx, our own retry meeting
   * the first try in flight); then the reader tells: running our PaymentIntent means the hand-off happened. The
   * same reader busy with our PaymentIntent is an earlier hand-off whose answer was lost (or that landed after we
   * had given up on it): this action adopts it, so the cashier's retry follows the payment instead of a 409.
   * Anything else after an ambiguous error is `HandOffUnknown`: the request may still land.
   */
  private async handOff(reader: Reader, action: ReaderAction, paymentIntentId: string): Promise<void> {
    try {
      await this.stripe.terminal.readers.processPaymentIntent(
        reader.stripeReaderId,
        { payment_intent: paymentIntentId, process_config: { skip_tipping: true } },
        { idempotencyKey: stripeIdempotencyKey('terminal.reader.process', action.id) },
      );
    } catch (error) {
      const busy = stripeErrorInfo(error)?.code === 'terminal_reader_busy';
      if (!busy && !isAmbiguousStripeError(error)) throw error;
      const running = await this.stripe.terminal.readers.retrieve(reader.stripeReaderId).then(
        (live) => ('deleted' in live && live.deleted ? null : (live as Stripe.Terminal.Reader).action),
        () => null,
      );
      if (runsIntent(running, paymentIntentId)) {
        this.logger.pino.warn(
          { actionId: action.id, readerId: reader.id, paymentIntentId, busy, readerAction: running.status },
          'the reader runs our payment though Stripe did not confirm this hand-off; following it',
        );
        return;
      }
      if (busy) throw error;
      throw new HandOffUnknown(error);
    }
  }

  /**
   * Which payments attempt to use: the latest one while its PaymentIntent can still be processed (after a decline
   * or a timeout the same PaymentIntent is reused: no duplicate), a new one only after it was canceled.
   */
  private async attemptFor(orderId: string): Promise<number> {
    const answer = await this.upstream.payments<{ latest: PaymentView }>(
      'GET',
      `/payments/by-order/${encodeURIComponent(orderId)}`,
    );
    if (answer.status === 404) return 1;
    if (answer.status !== 200) throw relayError('payments', answer);
    const latest = answer.body.latest;
    if (latest.status === 'canceled') return latest.attempt + 1;
    if (latest.status === 'succeeded' || latest.status === 'requires_capture')
      throw conflict('order_already_paid', `order ${orderId} already has an authorised payment`, {
        paymentId: latest.paymentId,
      });
    return latest.attempt;
  }

  private async paymentFor(action: ReaderAction, body: StartPaymentBody): Promise<PaymentView> {
    const answer = await this.upstream.payments<PaymentView & { clientSecret?: string }>(
      'POST',
      '/payments',
      {
        orderId: action.orderId,
        amount: body.amount,
        currency: body.currency,
        channel: 'pos',
        storeId: action.storeId,
        ...(body.customerId ? { customerId: body.customerId } : {}),
        attempt: action.attempt,
      },
    );
    if (answer.status !== 201 && answer.status !== 200) throw relayError('payments', answer);
    // The client secret is for SDK-driven apps; a server-driven reader does not need it, so we never keep it.
    const { clientSecret: _secret, ...payment } = answer.body;
    if (!payment.paymentIntentId)
      throw conflict('payment_not_ready', 'payments has no PaymentIntent yet; retry');
    if (!PROCESSABLE.includes(payment.status))
      throw conflict('payment_not_processable', `the order's payment is ${payment.status}`, {
        paymentId: payment.paymentId,
      });
    return payment;
  }

  /** The cart on the reader's screen; a display failure never blocks the payment. */
  private async showCart(reader: Reader, body: StartPaymentBody): Promise<void> {
    let lineItems = [{ description: `Order ${body.orderId}`, amount: body.amount, quantity: 1 }];
    try {
      const answer = await this.upstream.orders<{
        total: number;
        currency: string;
        lines: { name: string; quantity: number; lineTotal: number }[];
      }>('GET', `/orders/${encodeURIComponent(body.orderId)}`);
      if (
        answer?.status === 200 &&
        answer.body.total === body.amount &&
        answer.body.currency === body.currency
      ) {
        lineItems = answer.body.lines.map((l) => ({
          description: l.name.slice(0, 100),
          amount: l.lineTotal,
          quantity: l.quantity,
        }));
      }
      await this.stripe.terminal.readers.setReaderDisplay(reader.stripeReaderId, {
        type: 'cart',
        cart: { currency: body.currency, line_items: lineItems, total: body.amount },
      });
    } catch (error) {
      this.logger.pino.warn(
        {
          readerId: reader.id,
          orderId: body.orderId,
          err: error instanceof ApiError ? error.code : stripeMessage(error),
        },
        'cart not shown on the reader',
      );
    }
  }

  /**
   * A pending action past its grace (a hand-off Stripe did not confirm, or a start that died midway): if the reader is
   * waiting for a card for our PaymentIntent, the hand-off landed after all. The action then runs from now with a
   * whole deadline, instead of being cancelled under a customer about to tap. Null when the reader is not.
   */
  async followIfRunning(reader: Reader, action: ReaderAction): Promise<ReaderAction | null> {
    if (action.state !== 'pending' || !action.paymentIntentId) return null;
    const live = await this.stripe.terminal.readers.retrieve(reader.stripeReaderId);
    const running = 'deleted' in live && live.deleted ? null : (live as Stripe.Terminal.Reader).action;
    if (!runsIntent(running, action.paymentIntentId)) return null;
    return this.uow.run(async (m) => {
      const a = (await this.repo.byId(m, action.id, true))!;
      if (a.state !== 'pending') return a;
      await this.repo.setDeadline(m, a.id, new Date(Date.now() + this.config.READER_ACTION_TIMEOUT_MS));
      return (await this.repo.transition(m, a, 'in_progress')) ?? a;
    });
  }

  /**
   * An in-progress action Stripe has said nothing about for READER_CHECK_MS: what did the reader do? Its event may be
   * lost or late (our endpoint away, Stripe's retries minutes apart, the backfill every few minutes), and the
   * customer at the till should not wait for the deadline. Settles what Stripe reports finished, as the event would
   * have. `running`: the reader still waits for a card; `undecided`: nothing says how it ended (the reader moved on
   * and the PaymentIntent is not authorised, or it was cancelled: the deadline's read-back or the cancel settles
   * it); `settled_elsewhere`: the event, the cashier or the deadline got there first.
   */
  async settleIfFinished(reader: Reader, action: ReaderAction): Promise<{ outcome: ReaderCheckOutcome; action?: ReaderAction }> {
    if (action.state !== 'in_progress' || !action.paymentIntentId) return { outcome: 'settled_elsewhere' };
    const live = await this.stripe.terminal.readers.retrieve(reader.stripeReaderId);
    const ra = 'deleted' in live && live.deleted ? null : (live as Stripe.Terminal.Reader).action;
    const ours = ra?.type === 'process_payment_intent' && intentOf(ra) === action.paymentIntentId ? ra : null;
    if (ours?.status === 'in_progress') return { outcome: 'running' };
    let to: 'succeeded' | 'failed';
    let details: { failureCode?: string; failureMessage?: string | null } = {};
    if (ours?.status === 'succeeded') to = 'succeeded';
    else if (ours?.status === 'failed' && ours.failure_code !== 'canceled') {
      // The reader shows the attempt now running for this PaymentIntent (a hand-off replaces the reader's action),
      // so its failure is this action's, not an earlier attempt's late decline.
      to = 'failed';
      details = { failureCode: ours.failure_code ?? 'failed', failureMessage: ours.failure_message ?? null };
    } else {
      // Cancelled, moved on or cleared: the PaymentIntent says whether the card was taken all the same.
      const pi = await this.stripe.paymentIntents.retrieve(action.paymentIntentId);
      if (pi.status !== 'requires_capture' && pi.status !== 'succeeded') return { outcome: 'undecided' };
      to = 'succeeded';
    }
    return this.uow.run(async (m) => {
      const a = (await this.repo.byId(m, action.id, true))!;
      const after = await this.repo.transition(m, a, to, details);
      return after ? { outcome: to, action: after } : { outcome: 'settled_elsewhere' as const };
    });
  }

  /** The cashier stops the running action (the customer walked away, wrong amount…). */
  async cancel(storeId: string, readerId: string): Promise<ActionView> {
    const reader = await this.readers.get(storeId, readerId);
    const active = await this.repo.activeForReader(this.dataSource.manager, reader.id);
    if (!active) throw conflict('no_action_in_progress', 'the reader is not running a payment');
    return actionView(await this.stop(reader, active, 'canceled'));
  }

  /**
   * Stops an action at Stripe (`cancel_action`) and records `outcome`. If the reader had nothing left to cancel,
   * what really happened is read back from Stripe (it may have succeeded a moment ago).
   */
  async stop(reader: Reader, action: ReaderAction, outcome: 'canceled' | 'timed_out'): Promise<ReaderAction> {
    try {
      await this.cancelAtStripe(reader);
    } catch (error) {
      if (!nothingToCancel(error)) throw fromStripeError(error) ?? error;
      return this.reconcile(reader, action, outcome);
    }
    // Cancelled at Stripe, but the PaymentIntent may have been authorised just before: Stripe's word wins.
    return this.reconcile(reader, action, outcome, true);
  }

  /** Reads the reader and the PaymentIntent from Stripe and settles the action accordingly. */
  async reconcile(
    reader: Reader,
    action: ReaderAction,
    fallback: 'canceled' | 'timed_out',
    canceled = false,
  ) {
    let to: ReaderActionState = fallback;
    let failure: { code: string | null; message: string | null } = {
      code: fallback,
      message: fallback === 'timed_out' ? 'the reader did not answer in time' : 'canceled by the cashier',
    };
    if (action.paymentIntentId) {
      const pi = await this.stripe.paymentIntents.retrieve(action.paymentIntentId);
      if (pi.status === 'requires_capture' || pi.status === 'succeeded') to = 'succeeded';
    }
    if (to !== 'succeeded' && !canceled) {
      const live = await this.stripe.terminal.readers.retrieve(reader.stripeReaderId).catch(() => null);
      const ra =
        live && !('deleted' in live && live.deleted) ? (live as Stripe.Terminal.Reader).action : null;
      const ours = ra?.type === 'process_payment_intent' && intentOf(ra) === action.paymentIntentId;
      if (ours && ra?.status === 'failed' && ra.failure_code !== 'canceled') {
        to = 'failed';
        failure = { code: ra.failure_code ?? 'failed', message: ra.failure_message ?? null };
      }
    }
    return this.uow.run(async (m) => {
      const a = (await this.repo.byId(m, action.id, true))!;
      return (
        (await this.repo.transition(
          m,
          a,
          to,
          to === 'succeeded' ? {} : { failureCode: failure.code, failureMessage: failure.message },
        )) ?? a
      );
    });
  }

  async get(storeId: string, readerId: string, actionId: string): Promise<ReaderAction> {
    const reader = await this.readers.get(storeId, readerId);
    const a = await this.repo.byId(this.dataSource.manager, actionId);
    if (!a || a.readerId !== reader.id) throw notFound(`payment ${actionId} of reader ${readerId}`);
    return a;
  }

  async list(storeId: string, orderId: string | undefined, limit: number) {
    const rows = await this.repo.listForStore(this.dataSource.manager, storeId, orderId, limit);
    return { storeId, actions: rows.map(actionView) };
  }

  /** Explicit capture (when auto-capture is off, or to capture less): arms the action and captures now. */
  async requestCapture(
    storeId: string,
    readerId: string,
    actionId: string,
    amountToCapture: number | undefined,
    captureNow: (m: EntityManager, id: string) => Promise<void>,
  ): Promise<ReaderAction> {
    const a = await this.get(storeId, readerId, actionId);
    if (a.state !== 'succeeded')
      throw conflict(
        'not_capturable',
        `the reader payment is ${a.state}; only a succeeded one can be captured`,
      );
    if (a.captureStatus === 'pending') {
      if (amountToCapture !== undefined && amountToCapture !== a.amountToCapture) {
        if (a.captureAttempts > 0)
          throw conflict('capture_in_progress', 'a capture with another amount is already under way');
        if (amountToCapture > a.amount)
          throw conflict('capture_exceeds_authorized', 'cannot capture more than authorised');
      }
      await this.dataSource.query(
        `UPDATE reader_actions SET capture_requested = true, next_capture_at = now(),
           amount_to_capture = COALESCE($2, amount_to_capture), updated_at = now()
         WHERE id = $1 AND capture_status = 'pending'`,
        [a.id, amountToCapture ?? null],
      );
      await this.dataSource.transaction((m) => captureNow(m, a.id));
    }
    return (await this.repo.byId(this.dataSource.manager, a.id))!;
  }
}

/** What a check of a quiet in-progress action found (see `settleIfFinished`; `terminal_reader_checks_total`). */
export type ReaderCheckOutcome = 'running' | 'undecided' | 'settled_elsewhere' | 'succeeded' | 'failed';

/**
 * Whether the reader is waiting for a card for this PaymentIntent. Only `in_progress`: a failed action of ours is an
 * earlier attempt's decline (the PaymentIntent is reused), and a finished success is settled by its event or by
 * reading the PaymentIntent, not followed.
 */
export function runsIntent(
  action: Stripe.Terminal.Reader.Action | null | undefined,
  paymentIntentId: string | null,
): action is Stripe.Terminal.Reader.Action {
  return action?.type === 'process_payment_intent' && action.status === 'in_progress' && !!paymentIntentId && intentOf(action) === paymentIntentId;
}

/** `cancel_action` found nothing running on the reader (or no reader). */
function nothingToCancel(error: unknown): boolean {
  const code = stripeErrorInfo(error)?.code;
  return code === 'terminal_reader_invalid_action' || code === 'resource_missing';
}

export function intentOf(action: Stripe.Terminal.Reader.Action): string | null {
  const pi = action.process_payment_intent?.payment_intent;
  if (!pi) return null;
  return typeof pi === 'string' ? pi : pi.id;
}
