import type { HttpException } from '@nestjs/common';
import type { Claims } from '@omnipay/auth';
import type { OrdersService } from '../orders/orders.service';
import type { UpstreamClient } from '../upstream/upstream.client';
import { PosService } from './pos.service';

const staff = (role: 'cashier' | 'manager'): Claims => ({ sub: `${role}_1`, role, storeId: 'store_berlin', iat: 0, exp: 1 });

function setup() {
  const calls: { path: string; body: unknown }[] = [];
  const upstream = {
    expectOk: async (_service: string, _method: string, path: string, body: unknown) => {
      calls.push({ path, body });
      return { ok: true };
    },
  } as unknown as UpstreamClient;
  const orders = {
    get: async () => ({ id: 'ord_1', status: 'pending_payment', total: 4600, currency: 'eur', customerId: null }),
  } as unknown as OrdersService;
  return { pos: new PosService(upstream, orders), calls };
}

const status = async (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: HttpException) => `${e.getStatus()} ${(e.getResponse() as { error: string }).error}`,
  );

describe('POS capture of less than the total', () => {
  it('is refused to a cashier, on the reader payment and on the capture, before anything reaches the terminal service', async () => {
    const { pos, calls } = setup();
    expect(await status(pos.payOnReader(staff('cashier'), 'ord_1', 'tmr_1', 1))).toBe('403 manager_required');
    expect(await status(pos.capture(staff('cashier'), 'tmr_1', 'rpa_1', 1))).toBe('403 manager_required');
    expect(calls).toEqual([]);
  });

  it('is a manager’s to decide; a cashier takes and captures the whole total', async () => {
    const { pos, calls } = setup();
    expect(await status(pos.payOnReader(staff('manager'), 'ord_1', 'tmr_1', 4000))).toBe('ok');
    expect(await status(pos.payOnReader(staff('cashier'), 'ord_1', 'tmr_1'))).toBe('ok');
    expect(await status(pos.capture(staff('cashier'), 'tmr_1', 'rpa_1'))).toBe('ok');
    expect(calls.map((c) => c.body)).toEqual([
      { orderId: 'ord_1', amount: 4600, currency: 'eur', amountToCapture: 4000 },
      { orderId: 'ord_1', amount: 4600, currency: 'eur' },
      {},
    ]);
  });
});
