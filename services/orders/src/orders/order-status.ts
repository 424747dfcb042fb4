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
 * - `payment_mismatch` (amount or currency differs from the order) is never paid; only a refund leaves it.
 * - `partially_refunded` can still be fulfilled: the customer keeps the rest of the order.
 */
export const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending_payment: ['paid', 'payment_failed', 'payment_mismatch', 'cancelled'],
  payment_failed: ['pending_payment', 'paid', 'payment_mismatch', 'cancelled'],
  paid: ['ready_for_pickup', 'fulfilled', 'partially_refunded', 'refunded'],
  ready_for_pickup: ['completed', 'partially_refunded', 'refunded'],
  fulfilled: ['completed', 'partially_refunded', 'refunded'],
  completed: ['partially_refunded', 'refunded'],
  partially_refunded: ['ready_for_pickup', 'fulfilled', 'completed', 'refunded'],
  payment_mismatch: ['partially_refunded', 'refunded'],
  cancelled: ['paid', 'payment_mismatch'],
  refunded: [],
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
];
