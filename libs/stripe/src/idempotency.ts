import { createHash } from 'node:crypto';

const MAX = 255; // Stripe's limit on Idempotency-Key

/**
 * A Stripe idempotency key derived from OUR ids, so a retried request, a retried call or a process restarted
 * after a crash sends the same key and Stripe answers with the first result instead of writing again.
 * `scope` names the operation (`pi.create`, `refund`, …); parts are our ids. Parts are URI-encoded so `a:b`+`c`
 * and `a`+`b:c` cannot collide; over-long keys are hashed (still deterministic).
 */
export function stripeIdempotencyKey(scope: string, ...parts: (string | number)[]): string {
  if (!/^[a-z][a-z0-9_.-]*$/.test(scope)) throw new Error(`invalid idempotency scope: ${scope}`);
  if (parts.length === 0) throw new Error('an idempotency key needs at least one id');
  const encoded = parts.map((p) => {
    const s = String(p);
    if (s.length === 0) throw new Error(`empty id in idempotency key for ${scope}`);
    return encodeURIComponent(s);
  });
  const key = `omnipay:${scope}:${encoded.join(':')}`;
  if (key.length <= MAX) return key;
  return `omnipay:${scope}:sha256:${createHash('sha256').update(encoded.join(':')).digest('hex')}`;
}

/** Stable hash of a request body (keys sorted), to tell "same request again" from "same key, other request". */
export function requestFingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
