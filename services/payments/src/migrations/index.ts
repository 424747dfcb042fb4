import { Payments1720000000000 } from './1720000000000-payments';
import { ReconciliationGeneration1720000000001 } from './1720000000001-reconciliation-generation';
import { RefundSeq1720000000002 } from './1720000000002-refund-seq';
import { AppendOnlyEntries1720000000003 } from './1720000000003-append-only-entries';
import { PaymentCancellations1720000000004 } from './1720000000004-payment-cancellations';
import { RetentionIndexes1720000000005 } from './1720000000005-retention-indexes';
import { CancelledOrders1720000000006 } from './1720000000006-cancelled-orders';
import { ReconciliationAudits1720000000007 } from './1720000000007-reconciliation-audits';
import { ReconciliationAuditSources1720000000008 } from './1720000000008-reconciliation-audit-sources';
import { CancelledOrdersRecent1720000000009 } from './1720000000009-cancelled-orders-recent';
import { DuplicatePaymentRefunds1720000000010 } from './1720000000010-duplicate-payment-refunds';
import { Payouts1720000000011 } from './1720000000011-payouts';
import { CreateRefusals1720000000012 } from './1720000000012-create-refusals';
import { HeldFacts1720000000013 } from './1720000000013-held-facts';
import { PayoutLinesRetention1720000000014 } from './1720000000014-payout-lines-retention';
import { StalledRefundRequests1720000000015 } from './1720000000015-stalled-refund-requests';

/** Every payments migration, in order: the service and the tests that build its schema use this one list. */
export const paymentsMigrations = [
  Payments1720000000000,
  ReconciliationGeneration1720000000001,
  RefundSeq1720000000002,
  AppendOnlyEntries1720000000003,
  PaymentCancellations1720000000004,
  RetentionIndexes1720000000005,
  CancelledOrders1720000000006,
  ReconciliationAudits1720000000007,
  ReconciliationAuditSources1720000000008,
  CancelledOrdersRecent1720000000009,
  DuplicatePaymentRefunds1720000000010,
  Payouts1720000000011,
  CreateRefusals1720000000012,
  HeldFacts1720000000013,
  PayoutLinesRetention1720000000014,
  StalledRefundRequests1720000000015,
];
