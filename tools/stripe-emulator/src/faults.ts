/**
 * Fault switches. API rules answer matching requests with an error status and/or after a delay, or
 * ("ambiguous") run the write and then answer 500. Webhook rules change delivery per endpoint.
 */
import { newId } from './ids';

export interface ApiFaultInput {
  /** HTTP method to match (default: any) */
  method?: string;
  /** path prefix (e.g. `/v1/payment_intents`) or, when it starts with `^`, a regular expression */
  path?: string;
  /** answer with this status (500, 502, 503, 504 or 429; 400 = Stripe refuses it for good) instead of running the request */
  status?: number;
  /** with status 400: the `invalid_request_error` code (e.g. `amount_too_large`) */
  code?: string;
  /** wait this long before handling (combined with `status` or alone) */
  delay_ms?: number;
  /** run the request (commit the write), then answer 500; the idempotency store keeps the real result */
  ambiguous?: boolean;
  /** apply to this many matching requests, then switch off (default: unlimited) */
  times?: number;
}

export interface ApiFault extends ApiFaultInput {
  id: string;
  hits: number;
}

export interface WebhookFaultInput {
  /** webhook endpoint id (`we_…`) or URL; omit for all endpoints */
  endpoint?: string;
  /** deliver every event this many times (each copy signed and retried independently) */
  duplicate?: number;
  /** add a random delay in [0, window) to each delivery, so deliveries within the window arrive shuffled */
  shuffle_window_ms?: number;
  /** delay every delivery by this much */
  delay_ms?: number;
  /** drop the first attempt of each delivery (it counts as failed and is retried) */
  drop_first_attempt?: boolean;
  /** drop the first N attempts of each delivery (generalises drop_first_attempt) */
  drop_attempts?: number;
}

export interface WebhookFault extends WebhookFaultInput {
  id: string;
}

export interface EffectiveWebhookFault {
  duplicate: number;
  shuffleWindowMs: number;
  delayMs: number;
  dropAttempts: number;
}

export class Faults {
  api: ApiFault[] = [];
  webhooks: WebhookFault[] = [];

  addApi(input: ApiFaultInput): ApiFault {
    const rule: ApiFault = { id: newId('flt', 12), ...input, hits: 0 };
    this.api.push(rule);
    return rule;
  }

  addWebhook(input: WebhookFaultInput): WebhookFault {
    const rule: WebhookFault = { id: newId('flt', 12), ...input };
    this.webhooks.push(rule);
    return rule;
  }

  remove(id: string): boolean {
    const a = this.api.length + this.webhooks.length;
    this.api = this.api.filter((r) => r.id !== id);
    this.webhooks = this.webhooks.filter((r) => r.id !== id);
    return a !== this.api.length + this.webhooks.length;
  }

  clear(): void {
    this.api = [];
    this.webhooks = [];
  }

  /** First API rule matching the request (counts the hit). O(rules), normally 0–3. */
  matchApi(method: string, path: string): ApiFault | undefined {
    for (const r of this.api) {
      if (r.times !== undefined && r.hits >= r.times) continue;
      if (r.method && r.method.toUpperCase() !== method) continue;
      if (r.path) {
        if (r.path.startsWith('^')) {
          if (!new RegExp(r.path).test(path)) continue;
        } else if (!path.startsWith(r.path)) continue;
      }
      r.hits++;
      return r;
    }
    return undefined;
  }

  webhookFor(endpointId: string, url: string): EffectiveWebhookFault {
    const eff: EffectiveWebhookFault = { duplicate: 1, shuffleWindowMs: 0, delayMs: 0, dropAttempts: 0 };
    for (const r of this.webhooks) {
      if (r.endpoint && r.endpoint !== endpointId && r.endpoint !== url) continue;
      if (r.duplicate) eff.duplicate = Math.max(eff.duplicate, r.duplicate);
      if (r.shuffle_window_ms) eff.shuffleWindowMs = Math.max(eff.shuffleWindowMs, r.shuffle_window_ms);
      if (r.delay_ms) eff.delayMs = Math.max(eff.delayMs, r.delay_ms);
      if (r.drop_first_attempt) eff.dropAttempts = Math.max(eff.dropAttempts, 1);
      if (r.drop_attempts) eff.dropAttempts = Math.max(eff.dropAttempts, r.drop_attempts);
    }
    return eff;
  }
}
