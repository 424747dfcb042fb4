import { z } from 'zod';
import { defineMessage } from '../define-message';
import { channel, currency, isoTimestamp, minorUnits, orderId, storeId } from '../primitives';
import { Topics } from '../topics';

/** One line for finance per Stripe balance transaction of a charge, refund or dispute. `entryId` is stable. */
export const ReconciliationEntry = defineMessage({
  topic: Topics.financeReconciliation,
  type: 'reconciliation.entry',
  version: 1,
  schema: z.object({
    entryId: z.string(),
    kind: z.enum(['charge', 'refund', 'dispute']),
    orderId,
    paymentIntentId: z.string(),
    chargeId: z.string().nullable(),
    sourceId: z.string(),
    balanceTransactionId: z.string(),
    channel,
    storeId: storeId.nullable(),
    gross: minorUnits,
    fee: minorUnits,
    net: minorUnits,
    currency,
    occurredAt: isoTimestamp,
    availableOn: isoTimestamp,
  }),
  key: (d) => d.balanceTransactionId,
});
