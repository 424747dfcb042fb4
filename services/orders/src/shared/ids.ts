import type { OrderId } from '@omnipay/contracts';
import { randomHex } from '@omnipay/observability';

export function newOrderId(): OrderId {
  return `ord_${randomHex(24)}` as OrderId;
}
