import { JsonLogger, createLogger, metricsRegistry } from '@omnipay/observability';
import type { OutboxService, UnitOfWork } from '@omnipay/messaging';
import type Stripe from 'stripe';
import type { PaymentsConfig } from '../config';
import type { PayoutsRepository } from './payouts.repository';
import { PayoutsService } from './payouts.service';

describe('payments_payouts_overdue', () => {
  const sample = async () =>
    (await metricsRegistry.getSingleMetricAsString('payments_payouts_overdue')).split('\n').find((l) => l.startsWith('payments_payouts_overdue'));

  it('exports the count of overdue payouts, and NaN (unknown, not the last count) when the reading fails', async () => {
    let reading: () => Promise<number> = async () => 3;
    const repo = { overdue: () => reading() } as unknown as PayoutsRepository;
    new PayoutsService(
      repo,
      {} as UnitOfWork,
      {} as OutboxService,
      new JsonLogger(createLogger('payments', 'silent')),
      {} as Stripe,
      { PAYOUTS_POLL_MS: 60_000 } as PaymentsConfig,
    );
    expect(await sample()).toBe('payments_payouts_overdue 3');
    reading = () => Promise.reject(new Error('database away'));
    // prom-client spells it Nan; Prometheus reads NaN in any case.
    expect(await sample()).toBe('payments_payouts_overdue Nan');
    reading = async () => 0;
    expect(await sample()).toBe('payments_payouts_overdue 0');
  });
});
