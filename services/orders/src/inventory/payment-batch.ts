import {
  PaymentRefunded,
  PaymentSucceeded,
  StockChanged,
  type DataOf,
  type Envelope,
  type OrderId,
  type Sku,
  type StoreId,
} from '@omnipay/contracts';
import { paymentMatches } from '../shared/payment-check';
import { isEvent, type PlanLog } from '../shared/payment-events';

type Change = DataOf<typeof StockChanged>['change'];
/** `retaken`: a released hold's stock taken again (on hand only; reported as `committed`). */
type StockOp = Exclude<Change, 'reserved' | 'adjusted'> | 'retaken';
/**
 * `flagged_released`: released (cancel, expiry, or the mismatched payment refunded in full) and decided by a payment
 * that did not match the order. Orders keeps the first success for good, so a later success here is a duplicate
 * being refunded, and must not take the stock.
 */
export type HoldStatus = 'open' | 'committed' | 'released' | 'flagged' | 'shortfall' | 'flagged_released';

export interface HoldState {
  order_id: string;
  location_id: string;
  currency: string;
  total: number;
  status: HoldStatus;
}

export interface HoldLineState {
  sku: string;
  quantity: number;
  returned: number;
}

export interface StockState {
  sku: string;
  location_id: string;
  on_hand: number;
  reserved: number;
  /** False: no row (yet). A return to a store that never stocked the SKU creates it. */
  exists: boolean;
  /** Created by this chunk: written with an upsert of the amounts rather than an update. */
  created?: boolean;
}

export interface ReturnState {
  refund_id: string;
  order_id: string;
  location_id: string;
  items: { sku: string; quantity: number }[];
  status: 'pending' | 'restocked';
  /** Inserted by this chunk. */
  isNew: boolean;
}

/** What the chunk's events may touch, locked: holds, their lines, returns, and the stock rows of all of them. */
export interface InventorySnapshot {
  holds: Map<string, HoldState>;
  /** Per order, sorted by SKU. */
  lines: Map<string, HoldLineState[]>;
  stock: Map<string, StockState>;
  /** Existing returns of the chunk's orders that are pending, and any return whose refund id the chunk names, oldest first. */
  returns: ReturnState[];
}

export interface InventoryPlan {
  holds: HoldState[];
  lines: { order_id: string; sku: string; returned: number }[];
  stock: StockState[];
  returns: ReturnState[];
  /** `StockChanged` in the order the changes happened, each with the payment event that caused it. */
  events: { data: DataOf<typeof StockChanged>; cause: Envelope }[];
  shortfalls: number;
}

export const stockKey = (sku: string, locationId: string) => `${sku}\u0000${locationId}`;

/** The stock rows a chunk may touch: lines at the hold's location, returned items at their return store. */
export function stockKeysFor(
  events: Envelope[],
  holds: Map<string, HoldState>,
  lines: Map<string, HoldLineState[]>,
  returns: ReturnState[],
): { sku: string; locationId: string }[] {
  const keys = new Map<string, { sku: string; locationId: string }>();
  const add = (sku: string, locationId: string) => keys.set(stockKey(sku, locationId), { sku, locationId });
  for (const hold of holds.values())
    for (const l of lines.get(hold.order_id) ?? []) add(l.sku, hold.location_id);
  for (const r of returns) for (const i of r.items) add(i.sku, r.location_id);
  for (const e of events) {
    if (!isEvent(e, PaymentRefunded)) continue;
    const hold = holds.get(e.data.orderId);
    if (!hold) continue;
    for (const i of e.data.returnedItems) add(i.sku, e.data.returnStoreId ?? hold.location_id);
  }
  return [...keys.values()];
}

class CheckViolation extends Error {
  readonly code = '23514'; // as PostgreSQL's check_violation: not a transient conflict, the message is at fault
}

/**
 * Stock effects of a chunk of payment events (offset order), decided in memory on locked rows exactly as handling
 * them one at a time would, including the stock counts each `StockChanged` reports:
 * - succeeded: commit an open hold (or flag it when the payment does not match the order, a released one as
 *   `flagged_released`); re-take the stock of a hold released by expiry if it is all still there, else record a
 *   shortfall; then restock returns that overtook the success. A second success changes nothing.
 * - refunded: release a flagged hold once fully refunded; record a return's items once per refund id and restock
 *   them at the return store once the sale is committed (only what was sold, not more than was sold).
 * Failures and cancels change nothing: the reservation holds until the order is paid, cancelled or expires.
 * The snapshot is mutated.
 */
export function planInventoryPayments(s: InventorySnapshot, events: Envelope[], log: PlanLog): InventoryPlan {
  const holdsChanged = new Set<string>();
  const linesChanged = new Map<string, HoldLineState & { order_id: string }>();
  const stockChanged = new Set<string>();
  const returnsChanged = new Set<ReturnState>();
  const out: InventoryPlan['events'] = [];
  let shortfalls = 0;
  const returns = [...s.returns];

  const setStatus = (hold: HoldState, status: HoldStatus) => {
    hold.status = status;
    holdsChanged.add(hold.order_id);
  };

  const changeStock = (
    sku: string,
    locationId: string,
    change: StockOp,
    quantity: number,
    orderId: string,
    cause: Envelope,
  ) => {
    const key = stockKey(sku, locationId);
    const row = s.stock.get(key);
    if (!row || (!row.exists && change !== 'restocked'))
      throw new Error(`no stock row for ${sku} at ${locationId}`);
    if (change === 'committed') {
      row.on_hand -= quantity;
      row.reserved -= quantity;
    } else if (change === 'retaken') {
      row.on_hand -= quantity;
    } else if (change === 'released') {
      row.reserved -= quantity;
    } else {
      if (!row.exists) Object.assign(row, { exists: true, created: true });
      row.on_hand += quantity;
    }
    // What the table's CHECKs would refuse mid-chunk is refused here too (the chunk is then redone one by one).
    if (row.on_hand < 0 || row.reserved < 0 || row.reserved > row.on_hand)
      throw new CheckViolation(`stock of ${sku} at ${locationId} would break its CHECK`);
    stockChanged.add(key);
    out.push({
      data: {
        sku: sku as Sku,
        locationId: locationId as StoreId,
        change: change === 'retaken' ? 'committed' : change,
        quantity,
        onHand: row.on_hand,
        reserved: row.reserved,
        orderId: orderId as OrderId,
      },
      cause,
    });
  };

  const linesOf = (orderId: string) => s.lines.get(orderId) ?? [];

  const release = (hold: HoldState, why: string, cause: Envelope) => {
    if (hold.status !== 'open' && hold.status !== 'flagged') return;
    for (const line of linesOf(hold.order_id))
      changeStock(line.sku, hold.location_id, 'released', line.quantity, hold.order_id, cause);
    setStatus(hold, hold.status === 'flagged' ? 'flagged_released' : 'released');
    log.info({ orderId: hold.order_id, why, locationId: hold.location_id }, 'reservation released');
  };

  const retake = (hold: HoldState, cause: Envelope) => {
    const lines = linesOf(hold.order_id);
    const available = (sku: string) => {
      const row = s.stock.get(stockKey(sku, hold.location_id));
      return row?.exists ? row.on_hand - row.reserved : 0;
    };
    const short = lines.filter((l) => available(l.sku) < l.quantity).map((l) => l.sku);
    if (short.length > 0) {
      setStatus(hold, 'shortfall');
      shortfalls++;
      log.error(
        { orderId: hold.order_id, skus: short, locationId: hold.location_id },
        'paid order cannot be served: stock gone after its reservation expired',
      );
      return;
    }
    for (const line of lines)
      changeStock(line.sku, hold.location_id, 'retaken', line.quantity, hold.order_id, cause);
    setStatus(hold, 'committed');
  };

  const applyPendingReturns = (orderId: string, cause: Envelope) => {
    const lines = new Map(linesOf(orderId).map((l) => [l.sku, l]));
    for (const ret of returns) {
      if (ret.order_id !== orderId || ret.status !== 'pending') continue;
      for (const item of [...ret.items].sort((a, b) => (a.sku < b.sku ? -1 : 1))) {
        const line = lines.get(item.sku);
        // Only what was sold on this order can come back, and not more than was sold.
        const quantity = line ? Math.min(item.quantity, line.quantity - line.returned) : 0;
        if (!line || quantity <= 0) {
          log.warn(
            { orderId, refundId: ret.refund_id, sku: item.sku },
            'returned item not on the order (or already returned); not restocked',
          );
          continue;
        }
        line.returned += quantity;
        linesChanged.set(`${orderId}\u0000${item.sku}`, { ...line, order_id: orderId });
        changeStock(item.sku, ret.location_id, 'restocked', quantity, orderId, cause);
      }
      ret.status = 'restocked';
      returnsChanged.add(ret);
    }
  };

  for (const e of events) {
    if (isEvent(e, PaymentSucceeded)) {
      const d = e.data;
      const hold = s.holds.get(d.orderId);
      if (!hold) {
        log.warn({ orderId: d.orderId }, 'payment succeeded for an order without a stock hold; ignored');
        continue;
      }
      if (!paymentMatches({ total: hold.total, currency: hold.currency }, d)) {
        // Neither commit nor release: the stock stays held for the flagged order until finance refunds it. A released
        // hold is decided all the same: the first success is the order's, in orders as here.
        if (hold.status === 'open') setStatus(hold, 'flagged');
        else if (hold.status === 'released') setStatus(hold, 'flagged_released');
        continue;
      }
      if (hold.status === 'open') {
        for (const line of linesOf(d.orderId))
          changeStock(line.sku, hold.location_id, 'committed', line.quantity, d.orderId, e);
        setStatus(hold, 'committed');
      } else if (hold.status === 'released') {
        retake(hold, e);
      } else {
        continue; // committed, flagged, flagged_released or shortfall already: a second success changes nothing
      }
      applyPendingReturns(d.orderId, e);
    } else if (isEvent(e, PaymentRefunded)) {
      const d = e.data;
      const hold = s.holds.get(d.orderId);
      if (!hold) {
        log.warn({ orderId: d.orderId }, 'refund for an order without a stock hold; ignored');
        continue;
      }
      const wasCommitted = hold.status === 'committed';
      if (hold.status === 'flagged' && d.fullyRefunded) release(hold, 'mismatched payment refunded', e);
      if (d.returnedItems.length === 0) continue;
      // One return per refund, even if the refund is re-emitted under another message id.
      if (returns.some((r) => r.refund_id === d.refundId)) continue;
      const ret: ReturnState = {
        refund_id: d.refundId,
        order_id: d.orderId,
        location_id: d.returnStoreId ?? hold.location_id,
        items: d.returnedItems,
        status: 'pending',
        isNew: true,
      };
      returns.push(ret);
      returnsChanged.add(ret);
      // A refund can overtake its payment's success event; its items are restocked once the sale is committed.
      if (wasCommitted) applyPendingReturns(d.orderId, e);
    }
  }

  return {
    holds: [...holdsChanged].map((id) => s.holds.get(id) as HoldState),
    lines: [...linesChanged.values()].map((l) => ({
      order_id: l.order_id,
      sku: l.sku,
      returned: l.returned,
    })),
    stock: [...stockChanged].map((k) => s.stock.get(k) as StockState),
    returns: [...returnsChanged],
    events: out,
    shortfalls,
  };
}
