import { metricsRegistry } from '@omnipay/observability';
import { Counter } from 'prom-client';

/**
 * Stripe refused an idempotency key we sent with other parameters than its first use: always a bug of ours (a key
 * derived from too little), never cured by a retry. One is worth an alert.
 */
export const stripeIdempotencyErrors = new Counter({
  name: 'stripe_idempotency_errors_total',
  help: 'Stripe idempotency_error answers (a key reused with other parameters: a bug to alert on)',
  registers: [metricsRegistry],
});
