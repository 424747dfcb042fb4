import type { Channel } from '@omnipay/contracts';
import type { PaymentStatus } from './payment-state';

/** A payment: one attempt to pay one order through one Stripe PaymentIntent. */
export interface Payment {
  id: string;
  orderId: string;
  attempt: number;
  channel: Channel;
  storeId: string | null;
  customerId: string | null;
  amount: number;
  currency: string;
  captureMethod: 'automatic' | 'manual';
  setupFutureUsage: 'on_session' | 'off_session' | null;
  stripeCustomerId: string | null;
  paymentIntentId: string | null;
  status: PaymentStatus;
  cycle: number;
  statusObservedAt: number;
  amountCapturable: number;
  amountReceived: number;
  amountRefunded: number;
  amountRefundedObservedAt: number;
  chargeId: string | null;
  failureCode: string | null;
  declineCode: string | null;
  failureMessage: string | null;
  disputed: boolean;
  /** Stripe refused for good to create the PaymentIntent (no PaymentIntent: the attempt is dead unless repeated). */
  createRefused: { code: string; message: string; at: string } | null;
  createdAt: Date;
  updatedAt: Date;
}

type Row = Record<string, unknown>;
const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v as string));

export function toPayment(r: Row): Payment {
  return {
    id: String(r.id),
    orderId: String(r.order_id),
    attempt: num(r.attempt),
    channel: r.channel as Channel,
    storeId: str(r.store_id),
    customerId: str(r.customer_id),
    amount: num(r.amount),
    currency: String(r.currency),
    captureMethod: r.capture_method as Payment['captureMethod'],
    setupFutureUsage: str(r.setup_future_usage) as Payment['setupFutureUsage'],
    stripeCustomerId: str(r.stripe_customer_id),
    paymentIntentId: str(r.payment_intent_id),
    status: r.status as PaymentStatus,
    cycle: num(r.cycle),
    statusObservedAt: num(r.status_observed_at),
    amountCapturable: num(r.amount_capturable),
    amountReceived: num(r.amount_received),
    amountRefunded: num(r.amount_refunded),
    amountRefundedObservedAt: num(r.amount_refunded_observed_at),
    chargeId: str(r.charge_id),
    failureCode: str(r.failure_code),
    declineCode: str(r.decline_code),
    failureMessage: str(r.failure_message),
    disputed: Boolean(r.disputed),
    createRefused: (r.create_refused as Payment['createRefused'] | undefined) ?? null,
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
  };
}

/** What callers see of a payment (never a client secret, except in the create answer). */
export function paymentView(p: Payment) {
  return {
    paymentId: p.id,
    orderId: p.orderId,
    attempt: p.attempt,
    channel: p.channel,
    storeId: p.storeId,
    customerId: p.customerId,
    amount: p.amount,
    currency: p.currency,
    captureMethod: p.captureMethod,
    status: p.status,
    paymentIntentId: p.paymentIntentId,
    amountCapturable: p.amountCapturable,
    amountReceived: p.amountReceived,
    amountRefunded: p.amountRefunded,
    chargeId: p.chargeId,
    failure:
      p.failureCode || p.declineCode
        ? { code: p.failureCode, declineCode: p.declineCode, message: p.failureMessage }
        : null,
    disputed: p.disputed,
    createdAt: p.createdAt.toISOString(),
    updatedAt: p.updatedAt.toISOString(),
  };
}
export type PaymentView = ReturnType<typeof paymentView>;

/** Contract reference fields shared by every payments.events.v1 message. */
export function paymentRef(p: Payment) {
  return {
    paymentId: p.id,
    orderId: p.orderId,
    paymentIntentId: p.paymentIntentId as string,
    channel: p.channel,
    storeId: p.storeId,
    customerId: p.customerId,
  };
}
