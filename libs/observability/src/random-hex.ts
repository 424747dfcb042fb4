import { randomFillSync } from 'node:crypto';

/**
 * Random hex digits drawn from a refilled pool, so an id costs a string slice instead of a call into the CSPRNG
 * (the same trick `crypto.randomUUID` uses): a `randomBytes` call per id was 2–4 % of a busy service's CPU. The
 * pool is filled by the CSPRNG, so ids stay unpredictable; they are identifiers (trace, span, order, payment,
 * reader ids), never secrets or keys.
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
