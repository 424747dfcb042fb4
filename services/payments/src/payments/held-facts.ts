import { PaymentRefundFailed, PaymentRefunded } from '@omnipay/contracts';
import type { OutboxRow } from '@omnipay/messaging';

/** Refund facts carry the captured amount; held ones may have been decided before it was known. */
const REFUND_FACTS = new Set<string>([PaymentRefunded.type, PaymentRefundFailed.type]);

/**
 * A held fact as it is published when its payment reaches a final status (decision 0025), or undefined when it is
 * not published at all.
 * - A refund that overtook the payment's success was decided with the order's amount as the captured one, which is
 *   wrong after a partial capture: consumers would take the payment as captured in full and a refund of all of it
 *   as partial. It gets the amount captured, `totalRefunded` at most that, and `fullyRefunded` from the two.
 * - A payment that captured nothing (`amountCaptured` 0: an authorisation cancelled) gave no money back: Stripe
 *   "refunds" the released authorisation (API versions before 2025-03-31.basil), which is no refund to the order,
 *   its stock or its points. Its refund facts are dropped; the refund rows stay.
 */
export function asReleased(row: OutboxRow, amountCaptured: number): OutboxRow | undefined {
  const envelope = JSON.parse(row.payload) as { type: string; data: Record<string, unknown> };
  if (!REFUND_FACTS.has(envelope.type)) return row;
  if (amountCaptured <= 0) return undefined;
  if (envelope.data.amountCaptured === amountCaptured) return row;
  const totalRefunded = Math.min(Number(envelope.data.totalRefunded), amountCaptured);
  envelope.data = {
    ...envelope.data,
    amountCaptured,
    totalRefunded,
    ...(envelope.type === PaymentRefunded.type ? { fullyRefunded: totalRefunded >= amountCaptured } : {}),
  };
  return { ...row, payload: JSON.stringify(envelope) };
}
