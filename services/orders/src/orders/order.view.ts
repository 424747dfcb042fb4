import type { OrderStatus } from './order-status';

export interface OrderRow {
  id: string;
  channel: string;
  store_id: string;
  customer_id: string | null;
  fulfilment: 'ship' | 'pickup' | 'in_store';
  stock_location_id: string;
  currency: string;
  total: string;
  status: OrderStatus;
  expires_at: Date;
  payment_id: string | null;
  payment_intent_id: string | null;
  payment_status: string | null;
  amount_paid: string | number | null;
  paid_currency: string | null;
  amount_captured: string | number | null;
  amount_refunded: string | number;
  last_payment_error: { code: string | null; declineCode: string | null; message: string | null } | null;
  dispute_id: string | null;
  dispute_status: 'open' | 'won' | 'lost' | 'warning_closed' | 'prevented' | null;
  /** `refundSeq` of the last refund fact applied (0: none, or only facts from before refundSeq existed). */
  refund_seq: number;
  created_at: Date;
  updated_at: Date;
}

export interface LineRow {
  order_id: string;
  line_no: number;
  sku: string;
  name: string;
  quantity: number;
  unit_amount: string;
  line_total: string;
}

export interface HistoryRow {
  from_status: OrderStatus | null;
  to_status: OrderStatus;
  reason: string | null;
  actor: string;
  at: Date;
}

const num = (v: string | number | null) => (v === null ? null : Number(v));

export function toOrderView(o: OrderRow, lines: LineRow[], history?: HistoryRow[]) {
  return {
    id: o.id,
    status: o.status,
    channel: o.channel,
    storeId: o.store_id,
    customerId: o.customer_id,
    fulfilment: o.fulfilment,
    stockLocationId: o.stock_location_id,
    currency: o.currency,
    total: Number(o.total),
    lines: lines.map((l) => ({
      sku: l.sku,
      name: l.name,
      quantity: l.quantity,
      unitAmount: Number(l.unit_amount),
      lineTotal: Number(l.line_total),
    })),
    payment: {
      paymentId: o.payment_id,
      paymentIntentId: o.payment_intent_id,
      status: o.payment_status,
      amountPaid: num(o.amount_paid),
      currency: o.paid_currency,
      amountCaptured: num(o.amount_captured),
      amountRefunded: Number(o.amount_refunded),
      lastError: o.last_payment_error,
      disputeId: o.dispute_id,
      disputeStatus: o.dispute_status,
    },
    ...(history
      ? {
          history: history.map((h) => ({
            from: h.from_status,
            to: h.to_status,
            reason: h.reason,
            actor: h.actor,
            at: h.at,
          })),
        }
      : {}),
    expiresAt: o.expires_at,
    createdAt: o.created_at,
    updatedAt: o.updated_at,
  };
}

export type OrderView = ReturnType<typeof toOrderView>;
