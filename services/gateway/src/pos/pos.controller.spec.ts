import type { Claims } from '@omnipay/auth';
import type { Response } from 'express';
import { PosController } from './pos.controller';
import type { PosService } from './pos.service';

const cashier = { sub: 'csh_1', role: 'cashier', storeId: 'store_berlin', iat: 0, exp: 1 } as Claims;

function captureAnswering(captureStatus: string) {
  const pos = { capture: jest.fn(async () => ({ actionId: 'ract_1', status: 'succeeded', capture: { status: captureStatus } })) };
  const res = { status: jest.fn() };
  const controller = new PosController(pos as unknown as PosService);
  return { pos, res, run: () => controller.capture(cashier, 'rdr_1', 'ract_1', {}, res as unknown as Response) };
}

describe('POS capture answer', () => {
  it('answers 202 while the capture is still pending at terminal, with the reader payment', async () => {
    const { pos, res, run } = captureAnswering('pending');
    await expect(run()).resolves.toMatchObject({ capture: { status: 'pending' } });
    expect(res.status).toHaveBeenCalledWith(202);
    expect(pos.capture).toHaveBeenCalledWith(cashier, 'rdr_1', 'ract_1');
  });

  it('keeps 200 once captured', async () => {
    const { res, run } = captureAnswering('captured');
    await run();
    expect(res.status).not.toHaveBeenCalled();
  });
});
