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

const lineTotals = z.object({ count: z.number().int().nonnegative(), gross: minorUnits, fee: minorUnits, net: minorUnits });

/**
 * A Stripe payout (a bank deposit) matched with the balance transactions it paid out (decision 0019): the platform's
 * lines by kind, the account's other lines by type, and whether their nets add up to the payout. Sent once per
 * payout when it is paid and Stripe has attributed its transactions; `payoutId` is the stable id to dedup by.
 */
export const PayoutReconciled = defineMessage({
  topic: Topics.financeReconciliation,
  type: 'payout.reconciled',
  version: 1,
  schema: z.object({
    payoutId: z.string(),
    amount: minorUnits,
    currency,
    arrivalDate: isoTimestamp,
    automatic: z.boolean(),
    /** `balanced`: the lines' nets add up to the payout and each of the platform's lines matches its entry. */
    outcome: z.enum(['balanced', 'mismatches', 'not_attributable']),
    lines: lineTotals,
    platform: lineTotals.extend({ byKind: z.record(z.string(), lineTotals) }),
    other: lineTotals.extend({ byType: z.record(z.string(), z.number().int().nonnegative()) }),
    /** The payout's amount minus the sum of its lines' nets: 0 when Stripe's numbers add up. */
    difference: minorUnits,
    problems: z.object({
      missing_entry: z.number().int().nonnegative(),
      differs: z.number().int().nonnegative(),
    }),
    reconciledAt: isoTimestamp,
  }),
  key: (d) => d.payoutId,
  subject: () => 'payout_reconciled',
});

/** A payout that Stripe reports failed (it may fail after `paid`): its funds went back to the Stripe balance. */
export const PayoutFailed = defineMessage({
  topic: Topics.financeReconciliation,
  type: 'payout.failed',
  version: 1,
  schema: z.object({
    payoutId: z.string(),
    amount: minorUnits,
    currency,
    arrivalDate: isoTimestamp,
    failureCode: z.string().nullable(),
    failureMessage: z.string().nullable(),
    failureBalanceTransactionId: z.string().nullable(),
    /** Whether a `payout.reconciled` was sent for it before it failed. */
    wasReconciled: z.boolean(),
    failedAt: isoTimestamp,
  }),
  key: (d) => d.payoutId,
  subject: () => 'payout_failed',
});
