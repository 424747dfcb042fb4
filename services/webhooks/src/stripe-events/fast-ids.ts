import { randomFillSync } from 'node:crypto';

/**
 * Random hex digits drawn from a refilled pool, so an id costs a string slice instead of a call into the CSPRNG
 * (the same trick `crypto.randomUUID` uses). For trace and span ids, which must be unpredictable enough not to
 * collide, not secret.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let hex = '';
let at = 0;

export function randomHex(digits: number): string {
  if (at + digits > hex.length) {
    randomFillSync(pool);
    hex = pool.toString('hex');
    at = 0;
  }
  const out = hex.slice(at, at + digits);
  at += digits;
  return out;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-([0-9a-f]{2})$/;

/** Same contract as `childTraceparent` in @omnipay/observability: continue the caller's trace, else start one. */
export function childTraceparent(parent?: string | string[]): string {
  const m = typeof parent === 'string' ? TRACEPARENT.exec(parent) : null;
  if (m) return `00-${m[1]}-${randomHex(16)}-${m[2]}`;
  return `00-${randomHex(32)}-${randomHex(16)}-01`;
}
