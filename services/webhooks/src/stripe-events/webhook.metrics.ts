import { metricsRegistry } from '@omnipay/observability';
import { Counter, Gauge, Histogram } from 'prom-client';

export const webhookDeliveries = new Counter({
  name: 'stripe_webhook_deliveries_total',
  help: 'Stripe webhook deliveries by outcome (accepted, duplicate, rejected, failed) and reason',
  labelNames: ['outcome', 'reason'] as const,
  registers: [metricsRegistry],
});

let latestSignatureAge = 0;

/** A plain store per delivery, read when scraped: prom-client's `set` builds a label object and an entry per call. */
export function recordSignatureAge(seconds: number): void {
  latestSignatureAge = seconds;
}

/**
 * Stripe signs every delivery attempt as it sends it (retries included), so the age of a correctly signed one is
 * the two clocks' disagreement plus transit. Taken from accepted and refused deliveries alike: a drifting clock
 * shows here while deliveries are still accepted, before it crosses `STRIPE_WEBHOOK_TOLERANCE_S`.
 */
export const webhookSignatureAge = new Gauge({
  name: 'stripe_webhook_signature_age_seconds',
  help: 'Our clock minus the signed timestamp of the latest correctly signed Stripe delivery, accepted or refused (negative: stamped ahead of our clock; 0 until the first one)',
  registers: [metricsRegistry],
  collect() {
    this.set(latestSignatureAge);
  },
});

export const webhookIngestDuration = new Histogram({
  name: 'stripe_webhook_ingest_duration_seconds',
  help: 'Time from the request body being read to the answer of a Stripe webhook delivery, by outcome',
  labelNames: ['outcome'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 1],
  registers: [metricsRegistry],
});

export const webhookBatchSize = new Histogram({
  name: 'stripe_webhook_batch_size',
  help: 'Deliveries stored per shared transaction',
  buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
  registers: [metricsRegistry],
});

export const replayedEvents = new Counter({
  name: 'stripe_events_replayed_total',
  help: 'Stored Stripe events re-published by the admin replay',
  registers: [metricsRegistry],
});
