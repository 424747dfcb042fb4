import { PaymentRefundFailed, PaymentRefunded } from '@omnipay/contracts';
import type { OutboxRow } from '@omnipay/messaging';

/** Refund facts carry the captured amount; held ones may have been decided before it was known. */
const CARRYING_CAPTURED = new Set<string>([PaymentRefunded.type, PaymentRefundFailed.type]);

/**
 * A held refund fact as it should be published once the payment's captured amount is known (decision 0025). A
 * refund that overtook the payment's success was decided with the order's amount as the captured one, which is
 * wrong after a partial capture: consumers would take the payment as captured in full and the refund as partial.
 * `amountCaptured` 0 (a cancelled authorisation: nothing was captured) keeps the fact as decided.
 */
export function withCapturedAmount(row: OutboxRow, amountCaptured: number): OutboxRow {
  if (amountCaptured <= 0) return row;
  const envelope = JSON.parse(row.payload) as { type: string; data: Record<string, unknown> };
  if (!CARRYING_CAPTURED.has(envelope.type) || envelope.data.amountCaptured === amountCaptured) return row;
  const totalRefunded = Math.min(Number(envelope.data.totalRefunded), amountCaptured);
  envelope.data = {
    ...envelope.data,
    amountCaptured,
    totalRefunded,
    ...(envelope.type === PaymentRefunded.type ? { fullyRefunded: totalRefunded >= amountCaptured } : {}),
  };
  return { ...row, payload: JSON.stringify(envelope) };
}
