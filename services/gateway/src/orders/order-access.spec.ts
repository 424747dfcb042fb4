import type { Claims } from '@omnipay/auth';
import { canRefund, canSee, type OrderScope } from './order-access';
import { withoutStaffIds } from './orders.service';

const user = (role: Claims['role'], extra: Partial<Claims> = {}): Claims => ({ sub: 'u1', role, iat: 0, exp: 1, ...extra });
const webOrder: OrderScope = { id: 'o1', storeId: 'online_fc', customerId: 'u1', fulfilment: 'ship', channel: 'web' };
const berlinPos: OrderScope = { id: 'o2', storeId: 'store_berlin', customerId: null, fulfilment: 'in_store', channel: 'pos' };

describe('order access', () => {
  it('lets a customer see only their own orders', () => {
    expect(canSee(user('customer'), webOrder)).toBe(true);
    expect(canSee(user('customer', { sub: 'u2' }), webOrder)).toBe(false);
    expect(canSee(user('customer'), berlinPos)).toBe(false);
  });

  it('scopes cashiers and managers to their store', () => {
    expect(canSee(user('cashier', { storeId: 'store_berlin' }), berlinPos)).toBe(true);
    expect(canSee(user('cashier', { storeId: 'store_paris' }), berlinPos)).toBe(false);
    expect(canSee(user('manager', { storeId: 'store_paris' }), berlinPos)).toBe(false);
  });

  it('never shows orders to finance', () => {
    expect(canSee(user('finance'), webOrder)).toBe(false);
  });

  it('lets only managers and admins refund, managers for their store or an online order returned to them', () => {
    expect(canRefund(user('cashier', { storeId: 'store_berlin' }), berlinPos)).toBe(false);
    expect(canRefund(user('manager', { storeId: 'store_berlin' }), berlinPos)).toBe(true);
    expect(canRefund(user('manager', { storeId: 'store_paris' }), berlinPos)).toBe(false);
    expect(canRefund(user('manager', { storeId: 'store_paris' }), webOrder)).toBe(true);
    expect(canRefund(user('customer'), webOrder)).toBe(false);
    expect(canRefund(user('admin'), berlinPos)).toBe(true);
  });
});

describe("a customer's view of their order", () => {
  it('names staff who acted by role only, and leaves system and customer actions as they are', () => {
    const order = {
      id: 'o1',
      history: [
        { to: 'paid', actor: 'system:payments' },
        { to: 'ready_for_pickup', actor: 'staff:cashier:alice.smith' },
        { to: 'completed', actor: 'staff:manager:bob' },
        { to: 'cancelled', actor: 'staff:customer:u1' },
      ],
    };
    expect(withoutStaffIds(order).history.map((h) => h.actor)).toEqual(['system:payments', 'staff:cashier', 'staff:manager', 'staff:customer:u1']);
  });
});
