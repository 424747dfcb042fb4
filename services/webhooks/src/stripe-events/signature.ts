import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

export type SignatureFailure =
  | 'missing_signature_header'
  | 'malformed_signature_header'
  | 'timestamp_outside_tolerance'
  | 'no_matching_signature';

export type SignatureResult =
  | {
      ok: true;
      timestamp: number;
      /** Position of the matching secret in the configured list (never the secret). */ secretIndex: number;
      /** Our now minus the signed `t`: Stripe signs each attempt as it sends it, so far from 0 means a clock is off. */
      ageSeconds: number;
    }
  | {
      ok: false;
      /** Only for a correctly signed delivery: a forged one outside the tolerance is `no_matching_signature`. */
      reason: 'timestamp_outside_tolerance';
      ageSeconds: number;
    }
  | { ok: false; reason: Exclude<SignatureFailure, 'timestamp_outside_tolerance'> };

const MAX_HEADER = 4096;

/** Key objects of the configured secrets: `createHmac` with a string key would import the key on every call. */
const keys = new Map<string, KeyObject>();
function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    if (keys.size > 64) keys.clear(); // only a handful of secrets are ever configured; never grow without bound
    keys.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  }
  return key;
}
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Checks a `Stripe-Signature` header (`t=<unix s>,v1=<hex>[,v1=<hex>…][,v0=…]`) against the raw request bytes.
 * Stripe signs `"<t>.<raw body>"` with HMAC-SHA256; during a secret rotation it sends one `v1` per active secret,
 * so any `v1` matching any configured secret is accepted. Unlike the SDK's `constructEvent`, a timestamp too far
 * in the future is refused as well as a stale one: a signed request stamped ahead would otherwise stay replayable
 * past the tolerance.
 *
 * The signature is checked before the timestamp so that `timestamp_outside_tolerance` only ever describes a
 * delivery Stripe really signed: refused that way, it points at a clock (ours or Stripe's) or at a replay of a
 * genuine delivery, never at a forgery, and the age tells which direction and how far.
 */
export function verifyStripeSignature(
  rawBody: Buffer,
  header: string | string[] | undefined,
  secrets: readonly string[],
  toleranceSeconds: number,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): SignatureResult {
  if (header === undefined || header === '') return { ok: false, reason: 'missing_signature_header' };
  if (Array.isArray(header) || header.length > MAX_HEADER)
    return { ok: false, reason: 'malformed_signature_header' };

  let timestamp: number | undefined;
  const candidates: Buffer[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { ok: false, reason: 'malformed_signature_header' };
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,12}$/.test(value))
        return { ok: false, reason: 'malformed_signature_header' };
      timestamp = Number(value);
    } else if (key === 'v1') {
      // A v1 that is not 64 hex digits can never match; ignore it rather than fail the others (Stripe may add formats).
      if (HEX64.test(value)) candidates.push(Buffer.from(value, 'hex'));
    }
    // v0 (test-mode legacy) and unknown schemes are ignored, as Stripe's libraries do.
  }
  if (timestamp === undefined || candidates.length === 0)
    return { ok: false, reason: 'malformed_signature_header' };

  const prefix = `${timestamp}.`;
  for (let i = 0; i < secrets.length; i++) {
    const expected = createHmac('sha256', keyOf(secrets[i]))
      .update(prefix, 'latin1')
      .update(rawBody)
      .digest();
    // Compare against every candidate (no early exit on the first mismatch) with a constant-time comparison.
    if (candidates.some((c) => timingSafeEqual(c, expected))) {
      const ageSeconds = nowSeconds - timestamp;
      if (Math.abs(ageSeconds) > toleranceSeconds)
        return { ok: false, reason: 'timestamp_outside_tolerance', ageSeconds };
      return { ok: true, timestamp, secretIndex: i, ageSeconds };
    }
  }
  return { ok: false, reason: 'no_matching_signature' };
}
