/** Every topic of the platform. The `.v1` suffix is the topic's contract generation, not a message version. */
export const Topics = {
  stripeEvents: 'stripe.events.v1',
  paymentsEvents: 'payments.events.v1',
  ordersEvents: 'orders.events.v1',
  inventoryEvents: 'inventory.events.v1',
  loyaltyEvents: 'loyalty.events.v1',
  financeReconciliation: 'finance.reconciliation.v1',
  terminalEvents: 'terminal.events.v1',
} as const;

export type Topic = (typeof Topics)[keyof typeof Topics];

/** Where a consumer parks a message it could not apply after its bounded retries. */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}
