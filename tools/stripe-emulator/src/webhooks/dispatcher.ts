/**
 * Asynchronous, signed webhook delivery with bounded exponential-backoff retries and fault switches.
 * Each (event, endpoint[, copy]) is a Delivery driven by timers; sends run concurrently over a keep-alive agent.
 */
import http from 'node:http';
import https from 'node:https';
import { newId } from '../ids';
import type { Faults } from '../faults';
import type { Store, StripeObject } from '../store';
import { signatureHeader } from './signature';

export interface RetryPolicy {
  /** delay before the first retry */
  initialDelayMs: number;
  /** multiplier per retry */
  factor: number;
  /** cap on a single delay */
  maxDelayMs: number;
  /** give up when the next attempt would start later than this after the first one */
  maxDurationMs: number;
  /** per-attempt response timeout */
  attemptTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  initialDelayMs: 250,
  factor: 2,
  maxDelayMs: 10_000,
  maxDurationMs: 60_000,
  attemptTimeoutMs: 5_000,
};

export interface DeliveryAttempt {
  at: number;
  status: number | null;
  error: string | null;
  duration_ms: number;
}

export interface Delivery {
  id: string;
  event: string;
  type: string;
  endpoint: string;
  url: string;
  copy: number;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: DeliveryAttempt[];
  first_attempt_at: number | null;
  next_attempt_at: number | null;
}

const MAX_KEPT = 100_000;

export class WebhookDispatcher {
  readonly deliveries = new Map<string, Delivery>();
  /** Scheduled attempts, each with what it needs to be sent at once instead (`release`). */
  private readonly timers = new Map<NodeJS.Timeout, { d: Delivery; payload: string; dropAttempts: number }>();
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  /** event id -> endpoints still owed a successful delivery (drives `pending_webhooks`) */
  private readonly owed = new Map<string, Set<string>>();
  private generation = 0;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    private readonly store: Store,
    private readonly faults: Faults,
    public retry: RetryPolicy,
  ) {}

  /** Endpoints that should receive `type`. */
  endpointsFor(type: string): StripeObject[] {
    const out: StripeObject[] = [];
    for (const ep of this.store.webhookEndpoints.values()) {
      if (ep.status !== 'enabled') continue;
      const ev: string[] = ep.enabled_events;
      if (ev.includes('*') || ev.includes(type)) out.push(ep);
    }
    return out;
  }

  dispatch(event: StripeObject, endpoints: StripeObject[]): void {
    if (endpoints.length === 0) return;
    this.owed.set(event.id, new Set(endpoints.map((e) => e.id)));
    let payload: string | undefined;
    for (const ep of endpoints) {
      const fault = this.faults.webhookFor(ep.id, ep.url);
      for (let copy = 0; copy < fault.duplicate; copy++) {
        const d: Delivery = {
          id: newId('whdel', 16),
          event: event.id,
          type: event.type,
          endpoint: ep.id,
          url: ep.url,
          copy,
          status: 'pending',
          attempts: [],
          first_attempt_at: null,
          next_attempt_at: null,
        };
        this.keep(d);
        const delay = fault.delayMs + (fault.shuffleWindowMs ? Math.floor(Math.random() * fault.shuffleWindowMs) : 0);
        payload ??= JSON.stringify(event);
        this.schedule(d, delay, payload, fault.dropAttempts);
      }
    }
  }

  private keep(d: Delivery): void {
    this.deliveries.set(d.id, d);
    if (this.deliveries.size > MAX_KEPT) {
      const oldest = this.deliveries.keys().next();
      if (!oldest.done) this.deliveries.delete(oldest.value);
    }
  }

  private schedule(d: Delivery, delayMs: number, payload: string, dropAttempts: number): void {
    const gen = this.generation;
    d.next_attempt_at = Date.now() + delayMs;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (gen !== this.generation) return;
      void this.attempt(d, payload, dropAttempts, gen);
    }, delayMs);
    this.timers.set(t, { d, payload, dropAttempts });
  }

  /** Sends now every delivery waiting for its time (held by a delay fault, or backing off before a retry). */
  release(): number {
    const waiting = [...this.timers];
    for (const [t, { d, payload, dropAttempts }] of waiting) {
      clearTimeout(t);
      this.timers.delete(t);
      this.schedule(d, 0, payload, dropAttempts);
    }
    return waiting.length;
  }

  private async attempt(d: Delivery, payload: string, dropAttempts: number, gen: number): Promise<void> {
    const start = Date.now();
    d.first_attempt_at ??= start;
    d.next_attempt_at = null;
    if (d.attempts.length < dropAttempts) {
      d.attempts.push({ at: start, status: null, error: 'dropped by fault switch', duration_ms: 0 });
      this.afterFailure(d, payload, dropAttempts);
      return;
    }
    const ep = this.store.webhookEndpoints.get(d.endpoint);
    const secrets = this.store.endpointInternal.get(d.endpoint)?.secrets;
    if (!ep || !secrets || ep.status !== 'enabled') {
      d.status = 'failed';
      d.attempts.push({ at: start, status: null, error: 'endpoint deleted or disabled', duration_ms: 0 });
      this.checkIdle();
      return;
    }
    this.inFlight++;
    let status: number | null = null;
    let error: string | null = null;
    try {
      status = await this.post(ep.url, payload, signatureHeader(payload, secrets));
    } catch (e) {
      error = (e as Error).message;
    } finally {
      this.inFlight--;
    }
    if (gen !== this.generation) return this.checkIdle();
    d.attempts.push({ at: start, status, error, duration_ms: Date.now() - start });
    if (status !== null && status >= 200 && status < 300) {
      d.status = 'succeeded';
      const owed = this.owed.get(d.event);
      if (owed?.delete(d.endpoint)) {
        const evt = this.store.events.get(d.event);
        if (evt) evt.pending_webhooks = owed.size;
        if (owed.size === 0) this.owed.delete(d.event);
      }
      this.checkIdle();
    } else {
      this.afterFailure(d, payload, dropAttempts);
    }
  }

  private afterFailure(d: Delivery, payload: string, dropAttempts: number): void {
    const n = d.attempts.length; // failures so far
    const delay = Math.min(this.retry.initialDelayMs * Math.pow(this.retry.factor, n - 1), this.retry.maxDelayMs);
    if (Date.now() + delay - (d.first_attempt_at ?? Date.now()) > this.retry.maxDurationMs) {
      d.status = 'failed';
      this.checkIdle();
      return;
    }
    this.schedule(d, delay, payload, dropAttempts);
  }

  private post(url: string, payload: string, signature: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const mod = u.protocol === 'https:' ? https : http;
      const req = mod.request(
        u,
        {
          method: 'POST',
          agent: u.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
          headers: {
            'Content-Type': 'application/json; charset=utf-8',
            'Content-Length': Buffer.byteLength(payload),
            'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
            'Stripe-Signature': signature,
            'Cache-Control': 'no-cache',
            Accept: '*/*; q=0.5, application/xml',
          },
          timeout: this.retry.attemptTimeoutMs,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.retry.attemptTimeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Number of deliveries not yet finished (scheduled or in flight). */
  get pending(): number {
    return this.timers.size + this.inFlight;
  }

  /** Resolves when nothing is scheduled or in flight. */
  idle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private checkIdle(): void {
    if (this.pending !== 0) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    // let the caller's bookkeeping settle first
    setImmediate(() => w.forEach((f) => f()));
  }

  reset(): void {
    this.generation++;
    for (const t of this.timers.keys()) clearTimeout(t);
    this.timers.clear();
    this.deliveries.clear();
    this.owed.clear();
    this.checkIdle();
  }

  close(): void {
    this.reset();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
