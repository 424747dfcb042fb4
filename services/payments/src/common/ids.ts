import { createHash } from 'node:crypto';
import { randomHex } from '@omnipay/observability';

export function newPaymentId(): string {
  return `pay_${randomHex(24)}`;
}

/**
 * A deterministic UUID (v5 layout) from a name: the outbox id of a message that must be published once per
 * fact, so re-publishing the same fact after a crash is dropped by consumers' inboxes.
 */
export function deterministicUuid(name: string): string {
  const h = createHash('sha1').update(`omnipay.payments:${name}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
