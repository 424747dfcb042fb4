/**
 * The one rule every module applies to a succeeded payment, each against its own copy of what the order expected
 * (taken in the placement transaction): a payment whose amount or currency differs from the server-computed
 * total is never accepted as payment. Orders, inventory and loyalty decide independently and identically, so
 * no module has to read another's tables and none can disagree with another about a mismatch.
 */
export interface ExpectedPayment {
  total: number;
  currency: string;
}

export interface ReceivedPayment {
  amount: number;
  amountReceived: number;
  currency: string;
}

export function paymentMatches(expected: ExpectedPayment, received: ReceivedPayment): boolean {
  return (
    received.currency === expected.currency &&
    received.amount === expected.total &&
    received.amountReceived === expected.total
  );
}
