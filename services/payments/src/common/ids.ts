import { uuidFromName } from '@omnipay/contracts';
import { randomHex } from '@omnipay/observability';

export function newPaymentId(): string {
  return `pay_${randomHex(24)}`;
}

/**
 * A deterministic UUID (v5 layout) from a name: the outbox id of a message that must be published once per
 * fact, so re-publishing the same fact after a crash is dropped by consumers' inboxes.
 */
export function deterministicUuid(name: string): string {
  return uuidFromName(`omnipay.payments:${name}`);
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
