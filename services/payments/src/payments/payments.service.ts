import { Inject, Injectable } from '@nestjs/common';
import { OutboxService, UnitOfWork } from '@omnipay/messaging';
import { JsonLogger } from '@omnipay/observability';
import { STRIPE, isIdempotencyMismatch, stripeErrorInfo, stripeIdempotencyKey, isRetryableStripeError, redactSecrets } from '@omnipay/stripe';
import type Stripe from 'stripe';
import { DataSource, type EntityManager } from 'typeorm';
import { conflict, fromStripeError, notFound, unprocessable } from '../common/http-errors';
import { newPaymentId, nowSeconds } from '../common/ids';
import { requestFingerprint } from '@omnipay/stripe';
import { CustomersService } from '../customers/customers.service';
import { requestIfOrderCancelled } from '../order-cancellations/cancellation-requests';
import { checkCapture, checkRefund, refundable } from './amounts';
import type { CreatePaymentBody, RefundBody } from './dto/payments.dto';
import { isFinal, type PaymentStatus } from './payment-state';
import { BatchPaymentStore, emptyKeys } from './payment-store';
import { PaymentStateService, PLATFORM } from './payment-state.service';
import { paymentView, type Payment, type PaymentView } from './payment.model';
import { PaymentsRepository } from './payments.repository';

export interface CreatedPayment extends PaymentView {
  clientSecret: string;
}

/** The HTTP use cases: every Stripe write carries an idempotency key derived from our own ids. */
@Injectable()
export class PaymentsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly uow: UnitOfWork,
    private readonly outbox: OutboxService,
    private readonly repo: PaymentsRepository,
    private readonly state: PaymentStateService,
    private readonly customers: CustomersService,
    private readonly logger: JsonLogger,
    @Inject(STRIPE) private readonly stripe: Stripe,
  ) {}

  /**
   * Creates (or finds) the PaymentIntent of one attempt to pay one order. The row is written first so its id is
   * stable; Stripe's idempotency key is (order, attempt), so a retry or a restart after a crash between the
   * Stripe call and our commit gets the same PaymentIntent back.
   */
  async create(body: CreatePaymentBody): Promise<CreatedPayment> {
    const captureMethod = body.channel === 'pos' ? 'manual' : 'automatic';
    const newId = newPaymentId();
    const payment = await this.repo.insertAttempt(this.dataSource.manager, {
      id: newId,
      orderId: body.orderId,
      attempt: body.attempt,
      channel: body.channel,
      storeId: body.storeId ?? null,
      customerId: body.customerId ?? null,
      amount: body.amount,
      currency: body.currency,
      captureMethod,
      setupFutureUsage: body.setupFutureUsage ?? null,
    });
    if (payment === 'order_cancelled')
      throw conflict('order_cancelled', `order ${body.orderId} was cancelled; it can no longer be paid`);
    if (
      payment.amount !== body.amount ||
      payment.currency !== body.currency ||
      payment.channel !== body.channel ||
      (payment.storeId ?? null) !== (body.storeId ?? null) ||
      (payment.customerId ?? null) !== (body.customerId ?? null)
    ) {
      throw conflict(
        'payment_attempt_conflict',
        `order ${body.orderId} attempt ${body.attempt} already has a payment with other terms; use a new attempt number`,
      );
    }
    let pi: Stripe.PaymentIntent;
    try {
      if (payment.paymentIntentId) {
        pi = await this.stripe.paymentIntents.retrieve(payment.paymentIntentId);
      } else {
        const stripeCustomerId =
          payment.channel === 'app' && payment.customerId
            ? await this.customers.stripeCustomerId(payment.customerId)
            : null;
        pi = await this.stripe.paymentIntents.create(
          this.intentParams(payment, stripeCustomerId, body.description),
          {
            idempotencyKey: stripeIdempotencyKey('pi.create', payment.orderId, payment.attempt),
          },
        );
        if (stripeCustomerId)
          await this.repo.update(this.dataSource.manager, payment.id, {
            stripe_customer_id: stripeCustomerId,
          });
      }
    } catch (error) {
      this.logStripeError(error, 'create PaymentIntent', payment);
      if (!payment.paymentIntentId) await this.noteCreateRefused(payment.id, error);
      throw fromStripeError(error) ?? error;
    }
    // The row is loaded once, locked, and the answer is its end state: no second read after the commit.
    const current = await this.uow.run(async (m) => {
      const store = await BatchPaymentStore.load(m, this.outbox, { ...emptyKeys(), paymentIds: new Set([payment.id]) });
      await this.state.applyPaymentIntent(store, pi, { kind: 'api', id: pi.id, created: nowSeconds() });
      await store.flush();
      return store.byId(payment.id);
    });
    // A repeat of a create whose answer was lost (the attempt existed already), for an order cancelled meanwhile:
    // the PaymentIntent is now recorded, so the cancellation worker cancels it; its client secret is not handed out.
    // (A first create for a cancelled order was refused by the insert; one racing the cancellation by milliseconds
    // is found by the cancellation worker's sweep, decision 0014.)
    if (
      payment.id !== newId &&
      current?.status !== 'succeeded' && // paid after all: the order service honours it, so the answer is the payment
      (await requestIfOrderCancelled(this.dataSource.manager, payment.id, payment.orderId))
    )
      throw conflict('order_cancelled', `order ${payment.orderId} was cancelled; its PaymentIntent is being cancelled`);
    if (!pi.client_secret) throw new Error('Stripe returned a PaymentIntent without client secret');
    if (!current) throw notFound(`payment ${payment.id}`);
    return { ...paymentView(current), clientSecret: pi.client_secret };
  }

  /**
   * A create Stripe refused for good (invalid for it, not an outage, not our credentials, not a key clash) leaves a
   * payment with no PaymentIntent; recorded, so the cancellation worker does not wait a day for one. A repeat of the
   * create may still succeed (it asks Stripe again).
   */
  private async noteCreateRefused(paymentId: string, error: unknown): Promise<void> {
    const info = stripeErrorInfo(error);
    if (!info?.statusCode || isRetryableStripeError(error)) return;
    if (info.statusCode < 400 || info.statusCode >= 500 || [401, 403, 409, 429].includes(info.statusCode)) return;
    if (isIdempotencyMismatch(error)) return;
    await this.dataSource.query(
      `UPDATE payments SET create_refused = jsonb_build_object('code', $2::text, 'message', $3::text, 'at', now()), updated_at = now()
        WHERE id = $1 AND payment_intent_id IS NULL`,
      [paymentId, info.code ?? 'stripe_rejected', info.message],
    );
  }

  private intentParams(
    p: Payment,
    stripeCustomerId: string | null,
    description?: string,
  ): Stripe.PaymentIntentCreateParams {
    const metadata: Record<string, string> = {
      platform: PLATFORM,
      orderId: p.orderId,
      paymentId: p.id,
      channel: p.channel,
      attempt: String(p.attempt),
    };
    if (p.storeId) metadata.storeId = p.storeId;
    if (p.customerId) metadata.customerId = p.customerId;
    const base = {
      amount: p.amount,
      currency: p.currency,
      metadata,
      ...(description ? { description } : {}),
    };
    switch (p.channel) {
      case 'web':
        return { ...base, capture_method: 'automatic', automatic_payment_methods: { enabled: true } };
      case 'app':
        return {
          ...base,
          capture_method: 'automatic',
          automatic_payment_methods: { enabled: true },
          ...(stripeCustomerId ? { customer: stripeCustomerId } : {}),
          ...(p.setupFutureUsage ? { setup_future_usage: p.setupFutureUsage } : {}),
        };
      case 'pos':
        return {
          ...base,
          capture_method: 'manual',
          allowed_payment_method_types: ['card_present'],
        } as Stripe.PaymentIntentCreateParams;
    }
  }

  async get(paymentId: string): Promise<PaymentView> {
    return paymentView(await this.mustGet(paymentId));
  }

  async getByOrder(orderId: string): Promise<{ latest: PaymentView; attempts: PaymentView[] }> {
    const all = await this.repo.forOrder(this.dataSource.manager, orderId);
    if (all.length === 0) throw notFound(`payment of order ${orderId}`);
    const views = all.map(paymentView);
    return { latest: views[views.length - 1], attempts: views };
  }

  async capture(paymentId: string, amountToCapture?: number): Promise<PaymentView> {
    const p = await this.mustGetWithIntent(paymentId);
    if (p.status === 'succeeded') return paymentView(p); // already captured: a retried capture is not an error
    if (p.status !== 'requires_capture')
      throw conflict(
        'not_capturable',
        `payment is ${p.status}; only an authorised payment (requires_capture) can be captured`,
      );
    const check = checkCapture(amountToCapture, p.amountCapturable || p.amount);
    if (!check.ok) throw unprocessable('capture_exceeds_authorized', check.message);
    const pi = await this.callStripe('capture', p, () =>
      this.stripe.paymentIntents.capture(
        p.paymentIntentId!,
        amountToCapture ? { amount_to_capture: amountToCapture } : {},
        { idempotencyKey: stripeIdempotencyKey('pi.capture', p.id, amountToCapture ?? 'full') },
      ),
    );
    await this.uow.run((m) =>
      this.state.applyPaymentIntent(m, pi, { kind: 'api', id: pi.id, created: nowSeconds() }),
    );
    return this.get(p.id);
  }

  /**
   * `attempt` > 1 gives the Stripe call a new idempotency key: Stripe answers a repeated key with its first answer
   * for 24 h, so a cancel it refused (the PaymentIntent was `processing`) could otherwise never be tried again. The
   * reason is part of the key: the cancel route and the cancellation worker cancel with their own reasons, and one
   * key with other parameters is an `idempotency_error` at Stripe (counted and alerted on as a bug of ours).
   */
  async cancel(
    paymentId: string,
    reason?: Stripe.PaymentIntentCancelParams.CancellationReason,
    attempt = 1,
  ): Promise<PaymentView> {
    const p = await this.mustGetWithIntent(paymentId);
    if (p.status === 'canceled') return paymentView(p);
    if (isFinal(p.status)) throw conflict('not_cancelable', `payment is ${p.status}; refund it instead`);
    const pi = await this.callStripe('cancel', p, () =>
      this.stripe.paymentIntents.cancel(p.paymentIntentId!, reason ? { cancellation_reason: reason } : {}, {
        idempotencyKey: stripeIdempotencyKey('pi.cancel', p.id, reason ?? 'none', ...(attempt > 1 ? [attempt] : [])),
      }),
    );
    await this.uow.run((m) =>
      this.state.applyPaymentIntent(m, pi, { kind: 'api', id: pi.id, created: nowSeconds() }),
    );
    return this.get(p.id);
  }

  /** Reads the PaymentIntent from Stripe and applies what it says; returns the payment's status after that. */
  async refresh(paymentId: string): Promise<PaymentStatus> {
    const p = await this.mustGetWithIntent(paymentId);
    const pi = await this.callStripe('read', p, () => this.stripe.paymentIntents.retrieve(p.paymentIntentId!));
    await this.uow.run((m) => this.state.applyPaymentIntent(m, pi, { kind: 'api', id: pi.id, created: nowSeconds() }));
    return (await this.mustGet(p.id)).status;
  }

  /**
   * Refunds under a row lock: the amount is reserved in our table before Stripe is called, so two concurrent
   * refunds cannot together exceed what was captured; Stripe's key is the caller's refund request id.
   */
  async refund(paymentId: string, body: RefundBody) {
    const { returnLimit, ...terms } = body;
    const fingerprint = requestFingerprint({ paymentId, ...terms, returnStoreId: body.returnStoreId ?? null });
    const request = await this.dataSource.transaction(async (m) => {
      const p = await this.repo.byId(m, paymentId, true);
      if (!p) throw notFound(`payment ${paymentId}`);
      const [existing] = await m.query<Record<string, unknown>[]>(
        'SELECT * FROM refund_requests WHERE id = $1',
        [body.refundRequestId],
      );
      if (existing) {
        if (existing.fingerprint !== fingerprint) {
          throw conflict(
            'refund_request_conflict',
            `refund request ${body.refundRequestId} was made with other terms`,
          );
        }
        return {
          payment: p,
          amount: Number(existing.amount),
          status: String(existing.status),
          refundId: existing.refund_id as string | null,
          repeat: true,
        };
      }
      if (p.status !== 'succeeded' || !p.paymentIntentId) {
        throw conflict(
          'not_refundable',
          `payment is ${p.status}; only a captured (succeeded) payment can be refunded`,
        );
      }
      const [sums] = await m.query<{ reserved: string; external: string }[]>(
        `SELECT
           (SELECT COALESCE(SUM(amount),0) FROM refund_requests WHERE payment_id = $1 AND status IN ('pending','succeeded'))::int8 AS reserved,
           (SELECT COALESCE(SUM(amount),0) FROM refunds WHERE payment_id = $1 AND refund_request_id IS NULL AND status IN ('pending','succeeded'))::int8 AS external`,
        [p.id],
      );
      const remaining = refundable({
        amountReceived: p.amountReceived,
        stripeRefunded: p.amountRefunded,
        reserved: Number(sums.reserved),
        external: Number(sums.external),
      });
      if (returnLimit && body.returnedItems.length > 0) await this.checkReturnLimit(m, p.id, body.returnedItems, returnLimit);
      const check = checkRefund(body.amount, remaining, p.currency);
      if (!check.ok)
        throw unprocessable(check.code, check.message, { refundable: remaining, currency: p.currency });
      const inserted = await m.query<unknown[]>(
        `INSERT INTO refund_requests (id, payment_id, amount, reason, returned_items, return_store_id, fingerprint, status)
         VALUES ($1,$2,$3,$4,$5,$6,$7,'pending') ON CONFLICT (id) DO NOTHING RETURNING id`,
        [
          body.refundRequestId,
          p.id,
          check.amount,
          body.reason,
          JSON.stringify(body.returnedItems),
          body.returnStoreId ?? null,
          fingerprint,
        ],
      );
      // Taken meanwhile by a request for another payment (this payment's row lock keeps out its own): its terms differ.
      if (inserted.length === 0)
        throw conflict('refund_request_conflict', `refund request ${body.refundRequestId} was made with other terms`);
      return { payment: p, amount: check.amount, status: 'pending', refundId: null, repeat: false };
    });
    if (request.status === 'failed')
      throw unprocessable('refund_failed', `refund request ${body.refundRequestId} failed`);
    const p = request.payment;
    let refund: Stripe.Refund;
    let creating = false;
    try {
      // A repeated request reads the refund it made instead of making it again: Stripe forgets an idempotency key
      // after 24 h, so a repeat after that (a client's retry, a lost answer) would otherwise refund a second time.
      const made = request.refundId
        ? await this.stripe.refunds.retrieve(request.refundId)
        : request.repeat
          ? await this.refundOfRequest(p.paymentIntentId!, body.refundRequestId)
          : undefined;
      creating = !made;
      refund = made ?? (await this.createRefund(p, { id: body.refundRequestId, amount: request.amount, reason: body.reason }));
    } catch (error) {
      this.logStripeError(error, 'refund', p);
      if (creating) await this.releaseIfRefused(body.refundRequestId, error);
      throw fromStripeError(error) ?? error;
    }
    await this.uow.run((m) =>
      this.state.applyRefund(m, refund, { kind: 'api', id: refund.id, created: nowSeconds() }),
    );
    // A repeat that finds its refund failed since (closed card) answers as repeats do once that is recorded.
    if (!creating && (refund.status === 'failed' || refund.status === 'canceled'))
      throw unprocessable('refund_failed', `refund request ${body.refundRequestId} failed`);
    const after = await this.mustGet(p.id);
    return {
      refundRequestId: body.refundRequestId,
      refundId: refund.id,
      status: refund.status,
      amount: refund.amount,
      currency: refund.currency,
      payment: paymentView(after),
    };
  }

  /**
   * Refund requests reserved but never answered by Stripe for `minAgeMs`: a 429 or 5xx the client did not retry with
   * the same key, or a crash between the reservation and the call. Without this the amount stays reserved for good
   * (a new request is refused as `nothing_to_refund`) and nobody hears of it. Each is found at Stripe by its request
   * id, else created under its own key, as the client's retry would have; one that Stripe refuses for good is
   * released. Each request is tried at most once per `minAgeMs` (its `updated_at`), whichever replica takes it.
   * Returns how many were settled (found, made or released).
   */
  async completeStalledRefunds(minAgeMs: number, limit: number): Promise<number> {
    const [rows] = await this.dataSource.query<[{ id: string; payment_id: string; amount: string; reason: string }[], number]>(
      `UPDATE refund_requests SET updated_at = now()
        WHERE id IN (SELECT id FROM refund_requests
                      WHERE status = 'pending' AND refund_id IS NULL
                        AND updated_at < now() - make_interval(secs => $1::float8 / 1000)
                      ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING id, payment_id, amount, reason`,
      [minAgeMs, limit],
    );
    let settled = 0;
    for (const r of rows) {
      const p = await this.mustGetWithIntent(r.payment_id);
      const log = { refundRequestId: r.id, paymentId: p.id, orderId: p.orderId };
      try {
        // Found first: after 24 h Stripe has forgotten the key, and a create would refund a second time.
        const refund =
          (await this.refundOfRequest(p.paymentIntentId!, r.id)) ??
          (await this.createRefund(p, { id: r.id, amount: Number(r.amount), reason: r.reason as RefundBody['reason'] }));
        await this.uow.run((m) => this.state.applyRefund(m, refund, { kind: 'janitor', id: refund.id, created: nowSeconds() }));
        this.logger.pino.warn({ ...log, refundId: refund.id, status: refund.status }, 'stalled refund request completed at Stripe');
        settled++;
      } catch (error) {
        this.logStripeError(error, 'refund', p);
        if (await this.releaseIfRefused(r.id, error)) settled++;
        else this.logger.pino.warn({ ...log, err: redactSecrets(error instanceof Error ? error.message : String(error)) }, 'stalled refund request still not answered; will retry');
      }
    }
    return settled;
  }

  /** The refund of one request at Stripe, under the request's own key (the API's call and the janitor's alike). */
  private createRefund(p: Payment, request: { id: string; amount: number; reason: RefundBody['reason'] }): Promise<Stripe.Refund> {
    return this.stripe.refunds.create(
      {
        payment_intent: p.paymentIntentId!,
        amount: request.amount,
        reason: request.reason,
        metadata: {
          platform: PLATFORM,
          orderId: p.orderId,
          paymentId: p.id,
          channel: p.channel,
          refundRequestId: request.id,
          ...(p.storeId ? { storeId: p.storeId } : {}),
        },
      },
      { idempotencyKey: stripeIdempotencyKey('refund', request.id) },
    );
  }

  /**
   * Stripe refused a refund's creation for good (e.g. more than is left on the charge): its reservation is released.
   * A key Stripe knows with other parameters may stand for a refund it made, and a retryable error may have made one:
   * nothing is released on those. True when released.
   */
  private async releaseIfRefused(requestId: string, error: unknown): Promise<boolean> {
    if (isRetryableStripeError(error) || isIdempotencyMismatch(error) || !stripeErrorInfo(error)?.statusCode) return false;
    await this.dataSource.query(
      `UPDATE refund_requests SET status = 'failed', error = $2, updated_at = now() WHERE id = $1 AND refund_id IS NULL`,
      [requestId, JSON.stringify({ message: redactSecrets(error instanceof Error ? error.message : String(error)) })],
    );
    return true;
  }

  /**
   * The refund Stripe made for a request whose answer we never recorded (the call timed out, the process died, the
   * webhook is late), found by the request id the refund carries in its metadata.
   */
  /**
   * Items already returned by the payment's other refund requests (pending or succeeded; read under the payment's
   * row lock, so two concurrent returns are counted one after the other) plus these, against what the order holds.
   */
  private async checkReturnLimit(
    m: EntityManager,
    paymentId: string,
    items: RefundBody['returnedItems'],
    limit: NonNullable<RefundBody['returnLimit']>,
  ): Promise<void> {
    const rows = await m.query<{ sku: string; quantity: number }[]>(
      `SELECT i->>'sku' AS sku, SUM((i->>'quantity')::int)::int AS quantity
         FROM refund_requests r, jsonb_array_elements(r.returned_items) i
        WHERE r.payment_id = $1 AND r.status IN ('pending','succeeded')
        GROUP BY 1`,
      [paymentId],
    );
    const returned = new Map(rows.map((r) => [r.sku, r.quantity]));
    const ordered = new Map<string, number>();
    for (const l of limit) ordered.set(l.sku, (ordered.get(l.sku) ?? 0) + l.quantity);
    for (const item of items) returned.set(item.sku, (returned.get(item.sku) ?? 0) + item.quantity);
    for (const item of items) {
      const [total, most] = [returned.get(item.sku) ?? 0, ordered.get(item.sku) ?? 0];
      if (total > most)
        throw unprocessable(
          'too_many_items_returned',
          `${total} of ${item.sku} would be returned in all; the order holds ${most}`,
          { sku: item.sku, ordered: most, returned: total - item.quantity },
        );
    }
  }

  private async refundOfRequest(paymentIntentId: string, refundRequestId: string): Promise<Stripe.Refund | undefined> {
    for await (const refund of this.stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 })) {
      if (refund.metadata?.refundRequestId === refundRequestId) return refund;
    }
    return undefined;
  }

  private async callStripe<T>(what: string, p: Payment, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      this.logStripeError(error, what, p);
      throw fromStripeError(error) ?? error;
    }
  }

  private logStripeError(error: unknown, what: string, p: Payment): void {
    const e = error as { type?: string; code?: string; statusCode?: number; message?: string };
    // A key reused with other parameters is our bug, not Stripe's refusal: logged as one.
    this.logger.pino[isIdempotencyMismatch(error) ? 'error' : 'warn'](
      {
        paymentId: p.id,
        orderId: p.orderId,
        stripeType: e.type,
        stripeCode: e.code,
        statusCode: e.statusCode,
        stripeMessage: redactSecrets(String(e.message ?? '')),
      },
      `Stripe refused ${what}`,
    );
  }

  private async mustGet(paymentId: string): Promise<Payment> {
    const p = await this.repo.byId(this.dataSource.manager, paymentId);
    if (!p) throw notFound(`payment ${paymentId}`);
    return p;
  }

  private async mustGetWithIntent(paymentId: string): Promise<Payment> {
    const p = await this.mustGet(paymentId);
    if (!p.paymentIntentId)
      throw conflict('not_ready', 'the payment has no PaymentIntent yet; repeat the create request');
    return p;
  }
}
