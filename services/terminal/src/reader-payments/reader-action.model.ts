import type { ReaderActionState } from './reader-action-state';

export type CaptureStatus = 'none' | 'pending' | 'captured' | 'failed';

/** One payment sent to one reader: our record of a Stripe `process_payment_intent` action. */
export interface ReaderAction {
  id: string;
  readerId: string;
  storeId: string;
  orderId: string;
  customerId: string | null;
  amount: number;
  currency: string;
  amountToCapture: number | null;
  attempt: number;
  paymentId: string | null;
  paymentIntentId: string | null;
  state: ReaderActionState;
  failureCode: string | null;
  failureMessage: string | null;
  deadlineAt: Date;
  captureStatus: CaptureStatus;
  captureRequested: boolean;
  captureIdempotencyKey: string | null;
  captureAttempts: number;
  captureError: string | null;
  capturedAmount: number | null;
  capturedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

type Row = Record<string, unknown>;
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v as string));
const date = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

export function toAction(r: Row): ReaderAction {
  return {
    id: String(r.id),
    readerId: String(r.reader_id),
    storeId: String(r.store_id),
    orderId: String(r.order_id),
    customerId: str(r.customer_id),
    amount: Number(r.amount),
    currency: String(r.currency),
    amountToCapture: num(r.amount_to_capture),
    attempt: Number(r.attempt),
    paymentId: str(r.payment_id),
    paymentIntentId: str(r.payment_intent_id),
    state: r.state as ReaderActionState,
    failureCode: str(r.failure_code),
    failureMessage: str(r.failure_message),
    deadlineAt: new Date(r.deadline_at as string),
    captureStatus: r.capture_status as CaptureStatus,
    captureRequested: Boolean(r.capture_requested),
    captureIdempotencyKey: str(r.capture_idempotency_key),
    captureAttempts: Number(r.capture_attempts),
    captureError: str(r.capture_error),
    capturedAmount: num(r.captured_amount),
    capturedAt: date(r.captured_at),
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
    finishedAt: date(r.finished_at),
  };
}

/** What callers see of an action. */
export function actionView(a: ReaderAction) {
  return {
    actionId: a.id,
    readerId: a.readerId,
    storeId: a.storeId,
    orderId: a.orderId,
    amount: a.amount,
    currency: a.currency,
    amountToCapture: a.amountToCapture,
    attempt: a.attempt,
    paymentId: a.paymentId,
    paymentIntentId: a.paymentIntentId,
    status: a.state,
    failure: a.failureCode ? { code: a.failureCode, message: a.failureMessage } : null,
    capture: {
      status: a.captureStatus,
      requested: a.captureRequested,
      capturedAmount: a.capturedAmount,
      capturedAt: a.capturedAt,
      error: a.captureError,
    },
    deadlineAt: a.deadlineAt,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
    finishedAt: a.finishedAt,
  };
}
export type ActionView = ReturnType<typeof actionView>;
