/** The emulator's core: state, routes, events, webhook delivery, faults. The HTTP layer lives in http/server.ts. */
import { newId, nowSeconds } from './ids';
import { Collection, CursorError, Store, StripeObject } from './store';
import { Router, RouteDef, RequestContext } from './http/router';
import { Faults } from './faults';
import { IdempotencyStore } from './http/idempotency';
import { DEFAULT_RETRY, RetryPolicy, WebhookDispatcher } from './webhooks/dispatcher';
import { invalidRequest, resourceMissing } from './http/errors';
import type { Params } from './http/params';

export const API_VERSION = '2026-10-28.endive';

export interface PreconfiguredEndpoint {
  url: string;
  /** whsec_… (generated when omitted) */
  secret?: string;
  enabled_events?: string[];
}

export interface EmulatorConfig {
  secretKey: string;
  publishableKey: string;
  /** A restricted key (rk_…) with one permission, Events: read (`GET /v1/events…`), as a backfill job would hold. */
  eventsReadKey: string;
  apiVersion: string;
  webhookRetry: RetryPolicy;
  webhooks: PreconfiguredEndpoint[];
  /** delay before automatic_async charges get their balance transaction (and `charge.updated`) */
  asyncCaptureDelayMs: number;
  /** base URL of this server (set once listening); used in next_action redirect URLs */
  baseUrl: string;
}

export const DEFAULT_CONFIG: EmulatorConfig = {
  secretKey: 'sk_test_emulator',
  publishableKey: 'pk_test_emulator',
  eventsReadKey: 'rk_test_emulator_events_read',
  apiVersion: API_VERSION,
  webhookRetry: DEFAULT_RETRY,
  webhooks: [],
  asyncCaptureDelayMs: 20,
  baseUrl: 'http://127.0.0.1:12180',
};

export class Emulator {
  readonly store = new Store();
  readonly router = new Router();
  readonly faults = new Faults();
  readonly idempotency = new IdempotencyStore();
  readonly webhooks: WebhookDispatcher;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(readonly config: EmulatorConfig) {
    this.webhooks = new WebhookDispatcher(this.store, this.faults, config.webhookRetry);
  }

  route(def: RouteDef): void {
    this.router.add(def);
  }

  /** Record an event and hand it to webhook delivery (asynchronous, after the response). */
  emit(type: string, object: StripeObject, ctx: RequestContext | null, previous?: Record<string, unknown>): StripeObject {
    const endpoints = this.webhooks.endpointsFor(type);
    const data: Record<string, unknown> = { object: JSON.parse(JSON.stringify(object)) };
    if (previous) data.previous_attributes = previous;
    const event: StripeObject = {
      id: newId('evt'),
      object: 'event',
      api_version: this.config.apiVersion,
      created: nowSeconds(),
      data,
      livemode: false,
      pending_webhooks: endpoints.length,
      request: { id: ctx?.requestId ?? null, idempotency_key: ctx?.idempotencyKey ?? null },
      type,
    };
    this.store.events.insert(event);
    this.webhooks.dispatch(event, endpoints);
    return event;
  }

  /** Run `fn` later (outside the request), unless reset/close happens first. */
  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      try {
        fn();
      } catch (e) {
        process.stderr.write(`stripe-emulator: background task failed: ${(e as Error).stack}\n`);
      }
    }, ms);
    this.timers.add(t);
  }

  /** Get or 404 with Stripe's message. */
  get(coll: Collection<StripeObject>, kind: string, id: string, param = 'id'): StripeObject {
    const o = coll.get(id);
    if (!o) throw resourceMissing(kind, id, param);
    return o;
  }

  /** Stripe list object for a collection with the standard pagination params. */
  list(coll: Collection<StripeObject>, url: string, params: Params, filter?: (o: StripeObject) => boolean): StripeObject {
    if (params.starting_after && params.ending_before) {
      throw invalidRequest('You may only specify one of these parameters: ending_before, starting_after.', {
        param: 'ending_before',
        code: 'parameters_exclusive',
      });
    }
    if (params.limit !== undefined && params.limit > 100) {
      throw invalidRequest('This value must be less than or equal to 100.', { param: 'limit' });
    }
    const createdFilter = rangeFilter('created', params.created);
    const combined =
      createdFilter && filter ? (o: StripeObject) => createdFilter(o) && filter(o) : (createdFilter ?? filter);
    try {
      const page = coll.list({
        limit: params.limit,
        starting_after: params.starting_after,
        ending_before: params.ending_before,
        filter: combined,
      });
      return { object: 'list', data: page.data, has_more: page.has_more, url } as unknown as StripeObject;
    } catch (e) {
      if (e instanceof CursorError) throw resourceMissing('object', e.id, e.param);
      throw e;
    }
  }

  reset(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.webhooks.reset();
    this.store.clear();
    this.faults.clear();
    this.idempotency.clear();
  }

  close(): void {
    this.reset();
    this.webhooks.close();
  }
}

/** A `created`-style filter on a unix-time field: an exact integer, or a `{gt, gte, lt, lte}` range. */
export function rangeFilter(field: string, value: unknown): ((o: StripeObject) => boolean) | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') {
    if (!/^\d+$/.test(value)) throw invalidRequest(`Invalid integer: ${value}`, { param: field, code: 'parameter_invalid_integer' });
    const n = Number(value);
    return (o) => o[field] === n;
  }
  const c = value as Record<string, unknown>;
  const bounds: Array<[string, number]> = [];
  for (const [k, v] of Object.entries(c)) {
    if (!['gt', 'gte', 'lt', 'lte'].includes(k)) throw invalidRequest(`Received unknown parameter: ${field}[${k}]`, { param: `${field}[${k}]`, code: 'parameter_unknown' });
    if (typeof v !== 'string' || !/^\d+$/.test(v)) throw invalidRequest(`Invalid integer: ${String(v)}`, { param: `${field}[${k}]`, code: 'parameter_invalid_integer' });
    bounds.push([k, Number(v)]);
  }
  return (o) => {
    const t = o[field] as number;
    return bounds.every(([k, n]) => (k === 'gt' ? t > n : k === 'gte' ? t >= n : k === 'lt' ? t < n : t <= n));
  };
}
