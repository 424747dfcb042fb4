import type { Claims } from '@omnipay/auth';
import type { UpstreamClient } from '../upstream/upstream.client';
import { OrdersService } from './orders.service';

const customer = { sub: 'cust_42', role: 'customer', iat: 0, exp: 1 } as Claims;
const cashier = { sub: 'csh_1', role: 'cashier', storeId: 'store_berlin', iat: 0, exp: 1 } as Claims;

/** Orders with one order of customer cust_42 on `channel`, recording the actions sent to it. */
function orders(channel: string) {
  const sent: string[] = [];
  const order = {
    id: 'ord_1',
    storeId: 'store_berlin',
    customerId: 'cust_42',
    fulfilment: channel === 'pos' ? 'in_store' : 'ship',
    channel,
    history: [],
  };
  const upstream = {
    call: async () => ({ status: 200, body: order }),
    expectOk: async (_service: string, _method: string, path: string) => {
      sent.push(path);
      return { ...order, status: 'cancelled' };
    },
  } as unknown as UpstreamClient;
  return { service: new OrdersService(upstream), sent };
}

describe('cancelling an order', () => {
  it("refuses a customer's cancel of their in-store order (its card may be approved on the reader): 409, nothing sent", async () => {
    const { service, sent } = orders('pos');
    await expect(service.act(customer, 'ord_1', 'cancel')).rejects.toMatchObject({ status: 409 });
    expect(sent).toEqual([]);
  });

  it('lets the customer cancel their own online order, and the store staff the in-store one', async () => {
    const web = orders('web');
    await web.service.act(customer, 'ord_1', 'cancel');
    expect(web.sent).toEqual(['/orders/ord_1/cancel']);
    const pos = orders('pos');
    await pos.service.act(cashier, 'ord_1', 'cancel');
    expect(pos.sent).toEqual(['/orders/ord_1/cancel']);
  });
});
