/** Money rules of refunds and captures: integer minor units, never more than was captured. */

export interface RefundBasis {
  /** What was captured (Stripe `amount_received`). */
  amountReceived: number;
  /** Stripe's absolute `amount_refunded` as last seen on the charge. */
  stripeRefunded: number;
  /** Our refund requests not failed yet (pending or succeeded): money already promised back. */
  reserved: number;
  /** Refunds made outside this service (Dashboard) that we learnt about from events. */
  external: number;
}

/** What can still be refunded: the captured amount minus the larger of what Stripe and we know is refunded. */
export function refundable(b: RefundBasis): number {
  return Math.max(0, b.amountReceived - Math.max(b.stripeRefunded, b.reserved + b.external));
}

export type RefundCheck =
  | { ok: true; amount: number }
  | { ok: false; code: 'nothing_to_refund' | 'refund_exceeds_captured'; message: string };

/** A refund without amount refunds everything left; one above what is left is refused (never more than captured). */
export function checkRefund(requested: number | undefined, remaining: number, currency: string): RefundCheck {
  if (remaining <= 0)
    return { ok: false, code: 'nothing_to_refund', message: 'the payment has nothing left to refund' };
  const amount = requested ?? remaining;
  if (amount > remaining) {
    return {
      ok: false,
      code: 'refund_exceeds_captured',
      message: `refund of ${amount} ${currency} exceeds the ${remaining} ${currency} still refundable on this payment`,
    };
  }
  return { ok: true, amount };
}

/** A capture may take less than authorised (a partial capture releases the rest), never more. */
export function checkCapture(
  requested: number | undefined,
  capturable: number,
): { ok: true } | { ok: false; message: string } {
  if (requested !== undefined && requested > capturable) {
    return { ok: false, message: `amountToCapture ${requested} exceeds the authorised ${capturable}` };
  }
  return { ok: true };
}
