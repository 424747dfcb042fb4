import { Injectable, NotFoundException } from '@nestjs/common';
import type { Claims } from '@omnipay/auth';
import { conflict } from '@omnipay/platform';
import { OrdersService } from '../orders/orders.service';
import { UpstreamClient } from '../upstream/upstream.client';
import { callerRef, downstreamKey } from '../common/caller-ref';

/** Order statuses a reader payment may start in: unpaid, including after a declined card. */
const PAYABLE: readonly string[] = ['pending_payment', 'payment_failed'];

/**
 * In-store selling for cashiers and managers. The store is always the one in the staff member's token, never
 * one from the request, so a cashier cannot reach another store's orders, readers or location: the services
 * answer 404 for a reader of another store, and orders of another store are hidden by OrdersService.
 */
@Injectable()
export class PosService {
  constructor(
    private readonly upstream: UpstreamClient,
    private readonly orders: OrdersService,
  ) {}

  private store(user: Claims): string {
    if (!user.storeId) throw new NotFoundException('no store');
    return encodeURIComponent(user.storeId);
  }

  placeOrder(user: Claims, body: { currency: string; lines: unknown[]; customerId?: string }, key?: string) {
    return this.upstream.expectOk(
      'orders',
      'POST',
      '/orders',
      { channel: 'pos', storeId: user.storeId, customerId: body.customerId ?? null, fulfilment: 'in_store', currency: body.currency, lines: body.lines },
      key ? { 'idempotency-key': downstreamKey(`pos.${callerRef(user.sub)}.${key}`) } : undefined,
    );
  }

  async payOnReader(user: Claims, orderId: string, readerId: string) {
    const order = await this.orders.get(user, orderId);
    // A cancelled order's stock is released and its PaymentIntents cancelled (decision 0014); a paid one is paid.
    const status = String(order.status);
    if (!PAYABLE.includes(status))
      throw conflict('order_not_payable', `the order is ${status}; only an unpaid order can be paid on a reader`, { status });
    return this.upstream.expectOk('terminal', 'POST', `/stores/${this.store(user)}/readers/${encodeURIComponent(readerId)}/payments`, {
      orderId: order.id,
      // The server-computed total: the amount never comes from the POS client.
      amount: order.total,
      currency: order.currency,
      ...(order.customerId ? { customerId: order.customerId } : {}),
    });
  }

  async readerPayments(user: Claims, orderId: string) {
    const order = await this.orders.get(user, orderId);
    return this.upstream.expectOk('terminal', 'GET', `/stores/${this.store(user)}/reader-payments?orderId=${encodeURIComponent(order.id)}`);
  }

  readerAction(user: Claims, readerId: string, actionId: string) {
    return this.upstream.expectOk('terminal', 'GET', `/stores/${this.store(user)}/readers/${encodeURIComponent(readerId)}/payments/${encodeURIComponent(actionId)}`);
  }

  /**
   * Captures the whole authorised total. Never less: the order would be flagged as paid short for good, its stock held
   * and its points withheld, while the goods leave the till (orders cannot take a line off a placed order); an item
   * taken off is a refund of it after the capture, a manager's.
   */
  capture(user: Claims, readerId: string, actionId: string) {
    return this.upstream.expectOk(
      'terminal',
      'POST',
      `/stores/${this.store(user)}/readers/${encodeURIComponent(readerId)}/payments/${encodeURIComponent(actionId)}/capture`,
      {},
    );
  }

  cancelAction(user: Claims, readerId: string) {
    return this.upstream.expectOk('terminal', 'POST', `/stores/${this.store(user)}/readers/${encodeURIComponent(readerId)}/cancel-action`, {});
  }

  readers(user: Claims) {
    return this.upstream.expectOk('terminal', 'GET', `/stores/${this.store(user)}/readers`);
  }

  registerReader(user: Claims, body: { registrationCode: string; label: string }, key?: string) {
    return this.upstream.expectOk('terminal', 'POST', `/stores/${this.store(user)}/readers`, body, key ? { 'idempotency-key': downstreamKey(`reader.${callerRef(user.sub)}.${key}`) } : undefined);
  }

  connectionToken(user: Claims) {
    return this.upstream.expectOk('terminal', 'POST', `/stores/${this.store(user)}/connection-tokens`, {});
  }

  createStore(body: unknown) {
    return this.upstream.expectOk('terminal', 'POST', '/stores', body);
  }
}
