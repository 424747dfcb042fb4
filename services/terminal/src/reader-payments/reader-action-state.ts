/**
 * The reader action state machine. Stripe's reader events arrive late, twice and out of order, and the sweeper,
 * the consumer and the cashier's cancel race each other, so every change goes through `canTransition`.
 *
 * `pending`: our row exists (the reader is reserved) but `process_payment_intent` has not been confirmed yet.
 * `in_progress`: the reader is waiting for the card. The rest are final for the reader; the one exception is a
 * late success after a timeout, a failure or a cancel: a success is money authorised at Stripe, and it is better to
 * record and capture it than to leave an authorisation hanging. It is rare (the sweeper and the cashier cancel at
 * Stripe first); a cancel finds nothing to cancel when the hand-off had not landed yet and lands after it
 * (decision 0022).
 */
export const READER_ACTION_STATES = [
  'pending',
  'in_progress',
  'succeeded',
  'failed',
  'canceled',
  'timed_out',
] as const;
export type ReaderActionState = (typeof READER_ACTION_STATES)[number];

export const ACTION_TRANSITIONS: Readonly<Record<ReaderActionState, readonly ReaderActionState[]>> = {
  pending: ['in_progress', 'succeeded', 'failed', 'canceled', 'timed_out'],
  in_progress: ['succeeded', 'failed', 'canceled', 'timed_out'],
  succeeded: [],
  failed: ['succeeded'],
  canceled: ['succeeded'],
  timed_out: ['succeeded'],
};

/** States in which the action holds its reader (and its order). */
export const ACTIVE_STATES: readonly ReaderActionState[] = ['pending', 'in_progress'];

export function canTransition(from: ReaderActionState, to: ReaderActionState): boolean {
  return ACTION_TRANSITIONS[from].includes(to);
}

export function isActive(state: ReaderActionState): boolean {
  return ACTIVE_STATES.includes(state);
}

/** What `ReaderActionChanged.status` says for a state (`pending` is not announced). */
export function announcedStatus(
  state: ReaderActionState,
): 'started' | 'succeeded' | 'failed' | 'canceled' | 'timed_out' | null {
  switch (state) {
    case 'pending':
      return null;
    case 'in_progress':
      return 'started';
    default:
      return state;
  }
}
