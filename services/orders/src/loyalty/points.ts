import { minorPerUnit } from '../shared/money';

/** Points for a payment: `perUnit` for every whole currency unit paid (partial units earn nothing). */
export function accrualPoints(amount: number, currency: string, perUnit: number): number {
  if (amount <= 0 || perUnit <= 0) return 0;
  return Math.floor(amount / minorPerUnit(currency)) * perUnit;
}

/**
 * How many of the `accrued` points should have been taken back, given the ABSOLUTE amounts refunded and disputed
 * so far against a payment of `paidAmount`. Floored, and the covered amount is capped at the payment, so the
 * reversal never exceeds the accrual whatever the rounding. Callers write `target − already reversed`: the ledger
 * then converges to the same total whether events come once, twice, or in any order.
 */
export function reversalTarget(
  accrued: number,
  paidAmount: number,
  totalRefunded: number,
  disputedAmount: number,
): number {
  if (accrued <= 0 || paidAmount <= 0) return 0;
  const covered = Math.min(paidAmount, Math.max(0, totalRefunded) + Math.max(0, disputedAmount));
  // BigInt: accrued × covered can exceed 2^53 for large amounts in zero-decimal currencies.
  return Number((BigInt(accrued) * BigInt(covered)) / BigInt(paidAmount));
}
