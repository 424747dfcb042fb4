import { randomBytes } from 'node:crypto';
import type { OrderId } from '@omnipay/contracts';

export function newOrderId(): OrderId {
  return `ord_${randomBytes(12).toString('hex')}` as OrderId;
}
