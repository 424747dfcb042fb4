import { createHash } from 'node:crypto';
import { randomHex } from '@omnipay/observability';

export const newReaderId = (): string => `rdr_${randomHex(20)}`;
export const newActionId = (): string => `ract_${randomHex(20)}`;

/**
 * A deterministic UUID (v5 layout) from a name: the outbox id of a message published once per fact, so a
 * re-publication after a crash is dropped by consumers' inboxes.
 */
export function deterministicUuid(name: string): string {
  const h = createHash('sha1').update(`omnipay.terminal:${name}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/** Ids in routes and bodies: ours (`store_berlin`, `rdr_…`, `ract_…`) and our peers' (`ord_…`, `pay_…`). */
export const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
