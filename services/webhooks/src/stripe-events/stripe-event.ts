import { createHash } from 'node:crypto';
import type { DataOf, StripeEventReceived } from '@omnipay/contracts';

/** What the webhooks service needs to know about a verified Stripe event; the rest stays in the raw payload. */
export interface StripeEventFacts {
  eventId: string;
  type: string;
  objectId: string;
  paymentIntentId: string | null;
  apiVersion: string | null;
  livemode: boolean;
  /** Stripe's `created`, unix seconds. */
  created: number;
}

export type EventParseFailure = 'body_not_utf8' | 'body_not_json' | 'not_a_stripe_event';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const EVENT_ID = /^evt_[A-Za-z0-9_]{1,200}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Decodes and checks a body whose signature has already been verified. The text is kept as received, so the
 * stored payload is byte for byte what Stripe signed (a body that is not valid UTF-8 cannot be, and is refused).
 */
export function parseStripeEvent(
  raw: Buffer,
):
  | { ok: true; text: string; event: Record<string, unknown>; facts: StripeEventFacts }
  | { ok: false; reason: EventParseFailure } {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    return { ok: false, reason: 'body_not_utf8' };
  }
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'body_not_json' };
  }
  const facts = eventFacts(event);
  if (!facts) return { ok: false, reason: 'not_a_stripe_event' };
  return { ok: true, text, event: event as Record<string, unknown>, facts };
}

/** The routing and dedup facts of an event object, or null when it is not shaped like a Stripe event. */
export function eventFacts(event: unknown): StripeEventFacts | null {
  if (!isRecord(event)) return null;
  const { id, object, type, created, livemode, api_version: apiVersion, data } = event;
  if (typeof id !== 'string' || !EVENT_ID.test(id)) return null;
  if (object !== 'event' || typeof type !== 'string' || type.length === 0 || type.length > 200) return null;
  if (typeof created !== 'number' || !Number.isSafeInteger(created) || created < 0) return null;
  if (typeof livemode !== 'boolean') return null;
  if (apiVersion !== undefined && apiVersion !== null && typeof apiVersion !== 'string') return null;
  if (!isRecord(data) || !isRecord(data.object)) return null;
  const obj = data.object;
  // A few event objects have no id of their own (e.g. `balance.available`): they are keyed by the event itself.
  const objectId = typeof obj.id === 'string' && obj.id.length > 0 ? obj.id : id;
  return {
    eventId: id,
    type,
    objectId,
    paymentIntentId: paymentIntentOf(obj),
    apiVersion: typeof apiVersion === 'string' ? apiVersion : null,
    livemode,
    created,
  };
}

/**
 * The PaymentIntent an event object belongs to: the object itself, or the `payment_intent` of a charge, refund,
 * dispute (id or expanded object). All events of one PaymentIntent then share a Kafka partition.
 */
export function paymentIntentOf(obj: Record<string, unknown>): string | null {
  if (obj.object === 'payment_intent' && typeof obj.id === 'string' && obj.id.startsWith('pi_'))
    return obj.id;
  const pi = obj.payment_intent;
  if (typeof pi === 'string' && pi.startsWith('pi_')) return pi;
  if (isRecord(pi) && typeof pi.id === 'string' && pi.id.startsWith('pi_')) return pi.id;
  return null;
}

/** Fixed namespace of the envelope ids of Stripe events (RFC 4122 name-based, SHA-1). Never change it. */
export const STRIPE_EVENT_NAMESPACE = 'a8d3c1f2-5b4e-4c7a-9e61-3f0b2d7c9a14';

const namespaces = new Map<string, Buffer>();

/** RFC 4122 version-5 UUID of `name` in `namespace`. */
export function uuidV5(name: string, namespace: string): string {
  let ns = namespaces.get(namespace);
  if (!ns) namespaces.set(namespace, (ns = Buffer.from(namespace.replace(/-/g, ''), 'hex')));
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const h = hash.toString('hex', 0, 16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * The envelope id of a Stripe event on `stripe.events.v1`: the same for every delivery, retry and replay of the
 * event, so consumers' inboxes see one message however often it is published.
 */
export function envelopeIdFor(stripeEventId: string): string {
  return uuidV5(stripeEventId, STRIPE_EVENT_NAMESPACE);
}

/**
 * A copy of the event without client secrets. PaymentIntent and SetupIntent snapshots carry `client_secret`;
 * it must not travel on Kafka (design invariant 7), and no consumer needs it: the caller that created the
 * intent received it from the API.
 */
export function withoutClientSecrets(value: unknown, depth = 0): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutClientSecrets(v, depth + 1));
  if (!isRecord(value) || depth > 32) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === 'client_secret' && v !== null ? null : withoutClientSecrets(v, depth + 1);
  }
  return out;
}

/** The `StripeEventReceived` message of a stored event. */
export function messageData(
  facts: StripeEventFacts,
  event: Record<string, unknown>,
  receivedAt: Date,
  /** The raw text, when at hand: most events have no client secret, and a substring test is cheaper than a copy. */
  text?: string,
): DataOf<typeof StripeEventReceived> {
  return {
    stripeEventId: facts.eventId,
    stripeType: facts.type,
    objectId: facts.objectId,
    paymentIntentId: facts.paymentIntentId,
    apiVersion: facts.apiVersion,
    livemode: facts.livemode,
    created: facts.created,
    receivedAt: receivedAt.toISOString(),
    // (A `\u` escape could spell the key differently in the text, so its presence also forces the copy.)
    event:
      text !== undefined && !text.includes('client_secret') && !text.includes('\\u')
        ? event
        : (withoutClientSecrets(event) as Record<string, unknown>),
  };
}
