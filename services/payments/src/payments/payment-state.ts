/**
 * The payment state machine. Stripe does not order its events and delivers them more than once, so every
 * observation (a webhook's snapshot, an API response, the janitor's re-read) goes through `decide`, which only
 * moves a payment forward along this table. A late `processing` or `requires_action` cannot undo `succeeded`.
 */
export const PAYMENT_STATUSES = [
  'creating',
  'requires_payment_method',
  'requires_confirmation',
  'requires_action',
  'processing',
  'requires_capture',
  'succeeded',
  'failed',
  'canceled',
] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export const FINAL_STATUSES: readonly PaymentStatus[] = ['succeeded', 'canceled'];

/**
 * Allowed transitions. `failed` is not final: Stripe puts a declined PaymentIntent back to
 * `requires_payment_method` and the customer may try another card (a new cycle). `failed → failed` is a second
 * decline (told apart by its failure key). `requires_capture` only goes to captured or canceled.
 */
export const TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  creating: [
    'requires_payment_method',
    'requires_confirmation',
    'requires_action',
    'processing',
    'requires_capture',
    'succeeded',
    'failed',
    'canceled',
  ],
  requires_payment_method: [
    'requires_confirmation',
    'requires_action',
    'processing',
    'requires_capture',
    'succeeded',
    'failed',
    'canceled',
  ],
  requires_confirmation: [
    'requires_action',
    'processing',
    'requires_capture',
    'succeeded',
    'failed',
    'canceled',
  ],
  requires_action: ['processing', 'requires_capture', 'succeeded', 'failed', 'canceled'],
  processing: ['requires_capture', 'succeeded', 'failed', 'canceled'],
  failed: [
    'requires_confirmation',
    'requires_action',
    'processing',
    'requires_capture',
    'succeeded',
    'failed',
    'canceled',
  ],
  requires_capture: ['succeeded', 'canceled'],
  succeeded: [],
  canceled: [],
};

/** After a failure, these only count when observed strictly later than the failure (else they are stale). */
const RETRY_STATES: readonly PaymentStatus[] = ['requires_confirmation', 'requires_action', 'processing'];

export interface PaymentStateView {
  status: PaymentStatus;
  /** Number of failures seen so far: a new attempt after a decline is a new cycle. */
  cycle: number;
  /** Stripe `created` (unix s) of the observation that set the current status. */
  statusObservedAt: number;
}

export interface Observation {
  status: PaymentStatus;
  /** Stripe `created` of the event (unix s), or now for an API response / janitor re-read. */
  observedAt: number;
  /** Identifies one failure (the failed charge or payment method) so a redelivered decline is not a new one. */
  failureKey?: string;
}

export type Decision =
  | { apply: false; reason: 'same_status' | 'not_allowed' | 'stale_after_failure' }
  | { apply: true; to: PaymentStatus; cycle: number; transitionKey: string };

export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isFinal(status: PaymentStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

/**
 * Whether an observation moves the payment, and the transition key that makes emitting its event idempotent
 * (the caller inserts the key; a key seen before means this transition was already applied and announced).
 */
export function decide(current: PaymentStateView, obs: Observation): Decision {
  if (obs.status === current.status && obs.status !== 'failed')
    return { apply: false, reason: 'same_status' };
  if (!canTransition(current.status, obs.status)) return { apply: false, reason: 'not_allowed' };
  if (
    current.status === 'failed' &&
    RETRY_STATES.includes(obs.status) &&
    obs.observedAt <= current.statusObservedAt
  ) {
    return { apply: false, reason: 'stale_after_failure' };
  }
  if (obs.status === 'failed') {
    return {
      apply: true,
      to: 'failed',
      cycle: current.cycle + 1,
      transitionKey: `failed:${obs.failureKey ?? `cycle${current.cycle}`}`,
    };
  }
  const key = isFinal(obs.status) ? obs.status : `${obs.status}:${current.cycle}`;
  return { apply: true, to: obs.status, cycle: current.cycle, transitionKey: key };
}

/** Stripe PaymentIntent status → ours: a PaymentIntent sent back for a new payment method after an error failed. */
export function statusOfIntent(pi: { status: string; last_payment_error?: unknown }): PaymentStatus {
  if (pi.status === 'requires_payment_method')
    return pi.last_payment_error ? 'failed' : 'requires_payment_method';
  if ((PAYMENT_STATUSES as readonly string[]).includes(pi.status)) return pi.status as PaymentStatus;
  throw new Error(`unknown PaymentIntent status ${pi.status}`);
}

/** Refund statuses only move forward; a succeeded refund can still fail later (money back on the charge). */
const REFUND_RANK: Record<string, number> = {
  pending: 0,
  requires_action: 1,
  succeeded: 2,
  failed: 3,
  canceled: 3,
};

export function refundStatusAdvances(from: string | null, to: string): boolean {
  if (from === null) return true;
  return (REFUND_RANK[to] ?? -1) > (REFUND_RANK[from] ?? -1);
}
