import type { Claims } from '@omnipay/auth';

export interface OrderScope {
  id: string;
  storeId: string;
  customerId: string | null;
  fulfilment: string;
  channel: string;
}

/**
 * Who may see an order at all. Anything else is answered 404, exactly as for an order that does not exist,
 * so probing ids reveals nothing (a 403 would confirm the order exists).
 */
export function canSee(user: Claims, order: OrderScope): boolean {
  switch (user.role) {
    case 'admin':
      return true;
    case 'customer':
      return order.customerId === user.sub;
    case 'cashier':
    case 'manager':
      return order.storeId === user.storeId;
    default:
      return false;
  }
}

/**
 * Refunds: admins any order; managers their own store's orders, and online orders returned at their counter
 * (the cross-channel return: the money goes back to the original payment, the stock to the manager's store; only the
 * value of the items handed back, `counterReturnAmount`).
 */
export function canRefund(user: Claims, order: OrderScope): boolean {
  if (user.role === 'admin') return true;
  if (user.role !== 'manager') return false;
  return order.storeId === user.storeId || order.fulfilment === 'ship';
}
