import type { z } from 'zod';
import type { orderStatus } from '@omnipay/contracts';

export type OrderStatus = z.infer<typeof orderStatus>;
export type Fulfilment = 'ship' | 'pickup' | 'in_store';

/**
 * Every allowed transition; anything else is refused. Payment events may arrive late, twice or out of order, so
 * the table is also what keeps the state monotonic: an old `payment.failed` cannot move a `paid` order back.
 *
 * - A failed payment leaves the order payable: `payment_failed` goes back to `pending_payment` when a new attempt
 *   starts, or straight to `paid` when any attempt succeeds. Both expire at the same deadline.
 * - A payment that succeeds after the order was cancelled (expiry raced the customer) is honoured: `cancelled →
 *   paid` (inventory re-takes the stock if it can). Every module decides this the same way from the event alone.
 * - `payment_mismatch` (amount or currency differs from the order) is never paid; only a refund leaves it, and
 *   the staff transitions that hand goods over refuse an order paid short whatever state a refund moved it to
 *   (`OrdersService.staffTransition`).
 * - `partially_refunded` can still be fulfilled: the customer keeps the rest of the order.
 * - `refund_failed`: a refund Stripe had made failed later (closed card), so the money is back with the merchant
 *   and the customer has not got it. It is not moved back to where it was before the refund, which would hide that
 *   the customer is owed money: staff refund again (→ `partially_refunded`/`refunded`), or, once they settled it
 *   another way, carry on with what is left of the order (→ `ready_for_pickup`/`fulfilled`/`completed`).
 */
export const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending_payment: ['paid', 'payment_failed', 'payment_mismatch', 'cancelled'],
  payment_failed: ['pending_payment', 'paid', 'payment_mismatch', 'cancelled'],
  // `refund_failed` straight from `paid`: the failure of a refund overtook the refund itself (it is only ever sent
  // for a refund that had succeeded, so the customer was refunded and is owed the money again).
  paid: ['ready_for_pickup', 'fulfilled', 'partially_refunded', 'refunded', 'refund_failed'],
  // A partially refunded order may have moved on to these before its refund failed.
  ready_for_pickup: ['completed', 'partially_refunded', 'refunded', 'refund_failed'],
  fulfilled: ['completed', 'partially_refunded', 'refunded', 'refund_failed'],
  completed: ['partially_refunded', 'refunded', 'refund_failed'],
  partially_refunded: ['ready_for_pickup', 'fulfilled', 'completed', 'refunded', 'refund_failed'],
  payment_mismatch: ['partially_refunded', 'refunded'],
  cancelled: ['paid', 'payment_mismatch'],
  refunded: ['refund_failed'],
  refund_failed: ['partially_refunded', 'refunded', 'ready_for_pickup', 'fulfilled', 'completed'],
};

/** Staff transitions that only make sense for some fulfilment kinds. */
const FULFILMENT_GUARD: Partial<Record<OrderStatus, readonly Fulfilment[]>> = {
  ready_for_pickup: ['pickup'],
  fulfilled: ['ship', 'in_store'],
};

export function canTransition(from: OrderStatus, to: OrderStatus, fulfilment: Fulfilment): boolean {
  if (!TRANSITIONS[from].includes(to)) return false;
  const guard = FULFILMENT_GUARD[to];
  // The guard is about what staff may do; a refund moving back into a fulfilment state never happens.
  return !guard || guard.includes(fulfilment);
}

/** Statuses the expiry sweeper cancels once their deadline has passed. */
export const UNPAID: readonly OrderStatus[] = ['pending_payment', 'payment_failed'];

/** Statuses in which the order has been paid (money kept), so a refund event applies. */
export const REFUNDABLE: readonly OrderStatus[] = [
  'paid',
  'ready_for_pickup',
  'fulfilled',
  'completed',
  'partially_refunded',
  'payment_mismatch',
  'refund_failed',
];
