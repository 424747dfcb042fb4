import { createHash } from 'node:crypto';
import { Injectable, NotFoundException } from '@nestjs/common';
import type { Claims } from '@omnipay/auth';
import { UpstreamClient } from '../upstream/upstream.client';
import type { RefundBody } from './dto/refund.dto';
import { counterReturnAmount } from './counter-return';
import { canRefund, canSee, type OrderScope } from './order-access';
import { apiError } from '../common/public-error';
import { checkIdempotencyKey } from '../common/idempotency.service';
import { callerRef } from '../common/caller-ref';

type Order = OrderScope & {
  payment?: { paymentId: string | null };
  history?: { to: string }[];
  lines?: { sku: string; quantity: number; unitAmount: number }[];
} & Record<string, unknown>;
type StaffAction = 'ready-for-pickup' | 'picked-up' | 'fulfilled' | 'cancel';

/** Orders as a client sees them: every read and action passes the object-level check first. */
@Injectable()
export class OrdersService {
  constructor(private readonly upstream: UpstreamClient) {}

  async get(user: Claims, orderId: string): Promise<Order> {
    const order = await this.fetchIf(orderId, (o) => canSee(user, o));
    return user.role === 'customer' ? withoutStaffIds(order) : order;
  }

  /** The order if `allowed` says so; otherwise exactly the answer for an order that does not exist. */
  private async fetchIf(orderId: string, allowed: (order: Order) => boolean): Promise<Order> {
    if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(orderId)) throw new NotFoundException('order not found');
    const res = await this.upstream.call<Order>('orders', 'GET', `/orders/${encodeURIComponent(orderId)}`);
    if (res.status >= 300 || !allowed(res.body)) throw new NotFoundException('order not found');
    return res.body;
  }

  async list(user: Claims, query: { status?: string; limit?: number; before?: string; storeId?: string; customerId?: string }) {
    const params = new URLSearchParams();
    if (query.status) params.set('status', query.status);
    if (query.limit) params.set('limit', String(query.limit));
    if (query.before) params.set('before', query.before);
    const qs = params.size ? `?${params.toString()}` : '';
    if (user.role === 'customer') return this.upstream.expectOk('orders', 'GET', `/customers/${encodeURIComponent(user.sub)}/orders${qs}`);
    if (user.role === 'cashier' || user.role === 'manager') {
      return this.upstream.expectOk('orders', 'GET', `/stores/${encodeURIComponent(user.storeId as string)}/orders${qs}`);
    }
    if (query.storeId) return this.upstream.expectOk('orders', 'GET', `/stores/${encodeURIComponent(query.storeId)}/orders${qs}`);
    if (query.customerId) return this.upstream.expectOk('orders', 'GET', `/customers/${encodeURIComponent(query.customerId)}/orders${qs}`);
    throw apiError(400, 'filter_required', 'admins list orders by storeId or customerId');
  }

  async act(user: Claims, orderId: string, action: StaffAction, reason?: string): Promise<unknown> {
    const order = await this.get(user, orderId);
    if (action !== 'cancel' && user.role === 'customer') throw new NotFoundException('order not found');
    // An in-store sale is the till's: its card may already be approved on the reader, and the goods are at the
    // counter. A customer's own POS order (loyalty) is theirs to see, not to cancel from the app.
    if (action === 'cancel' && user.role === 'customer' && order.channel === 'pos')
      throw apiError(409, 'cancel_at_the_till', 'an in-store order is cancelled by the store staff, not from the app');
    return this.upstream.expectOk('orders', 'POST', `/orders/${encodeURIComponent(order.id)}/${action}`, {
      actor: `${user.role}:${user.sub}`,
      ...(reason ? { reason } : {}),
    });
  }

  async refund(user: Claims, orderId: string, body: RefundBody, idempotencyKey: string | undefined): Promise<unknown> {
    // A counter return of an online order: the manager may refund it without otherwise seeing that store's orders.
    const order = await this.fetchIf(orderId, (o) => canRefund(user, o));
    if (!idempotencyKey) throw apiError(400, 'idempotency_key_required', 'an Idempotency-Key header is required for refunds');
    checkIdempotencyKey(idempotencyKey);
    const paymentId = order.payment?.paymentId;
    if (!paymentId) throw apiError(422, 'no_payment', 'this order has no payment to refund');
    // Another store's online order (canRefund let a manager through for no other kind): a counter return of what was
    // delivered, refunding the items handed back and no more.
    const counterReturn = user.role === 'manager' && order.storeId !== user.storeId;
    if (counterReturn && !wasDelivered(order))
      throw apiError(409, 'not_delivered', "this online order has not been delivered: it cannot be returned at a store's counter");
    const amount = counterReturn ? counterReturnAmount(order.lines ?? [], body.items, body.amount) : body.amount;
    // Items returned at a counter go back into that store's stock; online returns to the order's own location.
    const returnStoreId = body.items.length > 0 ? (user.storeId ?? order.storeId) : null;
    return this.upstream.expectOk('payments', 'POST', `/payments/${encodeURIComponent(paymentId)}/refunds`, {
      refundRequestId: refundRequestId(user.sub, idempotencyKey),
      amount,
      reason: body.reason,
      returnedItems: body.items,
      returnStoreId,
      // Payments keeps all of the payment's returns together within what the order holds: an item is returned once.
      ...(body.items.length > 0 ? { returnLimit: (order.lines ?? []).map((l) => ({ sku: l.sku, quantity: l.quantity })) } : {}),
    });
  }
}

/**
 * The refund request id payments dedups on. As it always was when it fits payments' 128 characters and the `sub`
 * holds no separator (a refund retried across a deploy stays one refund); a digest otherwise, where cutting it would
 * make two long keys that share their first characters one refund, and a `sub` with a `.` two callers' refund.
 */
export function refundRequestId(sub: string, key: string): string {
  const plain = `gw.${callerRef(sub)}.${key}`;
  return plain.length <= 128 && /^[A-Za-z0-9_.:-]+$/.test(plain)
    ? plain
    : `gw.${createHash('sha256').update(`${sub}\n${key}`).digest('base64url')}`;
}

/** A customer sees who changed their order by role (`staff:manager`), not which staff member's user id. */
export function withoutStaffIds<T extends Record<string, unknown>>(order: T): T {
  if (!Array.isArray(order.history)) return order;
  return {
    ...order,
    history: (order.history as { actor?: unknown }[]).map((h) => {
      const m = typeof h.actor === 'string' ? /^staff:(cashier|manager|admin|finance):/.exec(h.actor) : null;
      return m ? { ...h, actor: `staff:${m[1]}` } : h;
    }),
  };
}

/** Whether the order reached the customer: a shipped order once fulfilled, whatever refunds moved it to since. */
function wasDelivered(order: Order): boolean {
  return (order.history ?? []).some((h) => h.to === 'fulfilled' || h.to === 'completed');
}
