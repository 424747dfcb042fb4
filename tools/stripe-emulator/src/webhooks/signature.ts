import { createHmac } from 'node:crypto';

/** `t=<unix s>,v1=<hex hmac-sha256(secret, "<t>.<payload>")>[,v1=…]` exactly as Stripe signs (no spaces). */
export function signatureHeader(payload: string, secrets: string[], timestamp = Math.floor(Date.now() / 1000)): string {
  const parts = [`t=${timestamp}`];
  for (const s of secrets) parts.push(`v1=${createHmac('sha256', s).update(`${timestamp}.${payload}`, 'utf8').digest('hex')}`);
  return parts.join(',');
}
