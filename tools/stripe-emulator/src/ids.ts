import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random base62 string of `len` characters (Stripe ids use 14–24 of these after the prefix). */
export function randomToken(len = 24): string {
  const bytes = randomBytes(len);
  let out = '';
  for (let i = 0; i < len; i++) out += ALPHABET[bytes[i]! % 62];
  return out;
}

/** New id with Stripe's prefix, e.g. newId('pi') -> 'pi_3Q…'. */
export function newId(prefix: string, len = 24): string {
  return `${prefix}_${randomToken(len)}`;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
