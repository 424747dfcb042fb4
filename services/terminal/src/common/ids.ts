import { uuidFromName } from '@omnipay/contracts';
import { randomHex } from '@omnipay/observability';

export const newReaderId = (): string => `rdr_${randomHex(20)}`;
export const newActionId = (): string => `ract_${randomHex(20)}`;

/**
 * A deterministic UUID (v5 layout) from a name: the outbox id of a message published once per fact, so a
 * re-publication after a crash is dropped by consumers' inboxes.
 */
export function deterministicUuid(name: string): string {
  return uuidFromName(`omnipay.terminal:${name}`);
}

/** Ids in routes and bodies: ours (`store_berlin`, `rdr_…`, `ract_…`) and our peers' (`ord_…`, `pay_…`). */
export const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
