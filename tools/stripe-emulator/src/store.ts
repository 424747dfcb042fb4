/**
 * In-memory state. Each resource kind is a Collection: O(1) get/set by id, insertion order kept for
 * newest-first pagination (`starting_after` / `ending_before` jump straight to the cursor's position).
 */
export interface StripeObject {
  id: string;
  object: string;
  [k: string]: any;
}

export interface ListPage<T> {
  data: T[];
  has_more: boolean;
}

export interface ListQuery<T> {
  limit?: number;
  starting_after?: string;
  ending_before?: string;
  filter?: (o: T) => boolean;
}

export class Collection<T extends { id: string }> {
  private readonly map = new Map<string, T>();
  private order: string[] = [];
  private readonly pos = new Map<string, number>();

  get(id: string): T | undefined {
    return this.map.get(id);
  }

  has(id: string): boolean {
    return this.map.has(id);
  }

  insert(obj: T): T {
    if (!this.map.has(obj.id)) {
      this.pos.set(obj.id, this.order.length);
      this.order.push(obj.id);
    }
    this.map.set(obj.id, obj);
    return obj;
  }

  delete(id: string): boolean {
    // The id stays in `order` (as a tombstone) so positions of the others do not move.
    return this.map.delete(id);
  }

  get size(): number {
    return this.map.size;
  }

  values(): IterableIterator<T> {
    return this.map.values();
  }

  clear(): void {
    this.map.clear();
    this.order = [];
    this.pos.clear();
  }

  /** Newest first. Throws `cursor` errors as plain Error with the offending param name in `.message`. */
  list(q: ListQuery<T>): ListPage<T> {
    const limit = Math.min(Math.max(q.limit ?? 10, 1), 100);
    const ok = (id: string) => {
      const o = this.map.get(id);
      return o !== undefined && (!q.filter || q.filter(o));
    };
    const data: T[] = [];
    if (q.ending_before) {
      const p = this.pos.get(q.ending_before);
      if (p === undefined) throw new CursorError('ending_before', q.ending_before);
      // objects newer than the cursor, the `limit` closest to it
      let i = p + 1;
      for (; i < this.order.length && data.length < limit; i++) {
        const id = this.order[i]!;
        if (ok(id)) data.push(this.map.get(id)!);
      }
      let has_more = false;
      for (; i < this.order.length; i++) if (ok(this.order[i]!)) { has_more = true; break; }
      return { data: data.reverse(), has_more };
    }
    let start = this.order.length - 1;
    if (q.starting_after) {
      const p = this.pos.get(q.starting_after);
      if (p === undefined) throw new CursorError('starting_after', q.starting_after);
      start = p - 1;
    }
    let i = start;
    for (; i >= 0 && data.length < limit; i--) {
      const id = this.order[i]!;
      if (ok(id)) data.push(this.map.get(id)!);
    }
    let has_more = false;
    for (; i >= 0; i--) if (ok(this.order[i]!)) { has_more = true; break; }
    return { data, has_more };
  }
}

export class CursorError extends Error {
  constructor(public readonly param: string, public readonly id: string) {
    super(`${param}`);
  }
}

/** Internal, never-serialised state attached to objects. */
export interface PaymentMethodInternal {
  behavior: CardBehavior;
  /** set when a SetupIntent authenticated this card for off-session use */
  setUpForOffSession?: boolean;
}

export type CardBehavior =
  | { kind: 'success'; dispute?: boolean }
  | { kind: 'decline'; code: string; decline_code: string; message: string }
  | { kind: 'authentication_required'; unlessSetUp: boolean }
  | { kind: 'timeout' };

export interface PaymentIntentInternal {
  /** 3-D Secure completed for the payment method currently attached */
  authenticated?: boolean;
  offSession?: boolean;
  /** for card_present PIs processed on a reader */
  reader?: string;
}

export interface WebhookEndpointInternal {
  secrets: string[];
  preconfigured?: boolean;
}

export class Store {
  readonly customers = new Collection<StripeObject>();
  readonly paymentMethods = new Collection<StripeObject>();
  readonly paymentIntents = new Collection<StripeObject>();
  readonly setupIntents = new Collection<StripeObject>();
  readonly charges = new Collection<StripeObject>();
  readonly refunds = new Collection<StripeObject>();
  readonly balanceTransactions = new Collection<StripeObject>();
  readonly disputes = new Collection<StripeObject>();
  readonly payouts = new Collection<StripeObject>();
  readonly events = new Collection<StripeObject>();
  readonly webhookEndpoints = new Collection<StripeObject>();
  readonly ephemeralKeys = new Collection<StripeObject>();
  readonly customerSessions = new Collection<StripeObject>();
  readonly locations = new Collection<StripeObject>();
  readonly readers = new Collection<StripeObject>();

  readonly pmInternal = new Map<string, PaymentMethodInternal>();
  readonly piInternal = new Map<string, PaymentIntentInternal>();
  readonly endpointInternal = new Map<string, WebhookEndpointInternal>();
  /** charge id -> refund ids (oldest first) */
  readonly refundsByCharge = new Map<string, string[]>();
  /**
   * Payout membership, never serialised (Stripe shows it only through `GET /v1/balance_transactions?payout=`).
   * txn id -> the payout it belongs to; a transaction belongs to one payout at most.
   */
  readonly payoutOfTxn = new Map<string, string>();
  /** payout id -> its transactions (same objects as in `balanceTransactions`), for paginated listing by payout */
  readonly txnsOfPayout = new Map<string, Collection<StripeObject>>();
  readonly balance = { available: new Map<string, number>(), pending: new Map<string, number>() };

  private readonly byPrefix: Record<string, Collection<StripeObject>> = {
    cus: this.customers,
    pm: this.paymentMethods,
    pi: this.paymentIntents,
    seti: this.setupIntents,
    ch: this.charges,
    re: this.refunds,
    txn: this.balanceTransactions,
    du: this.disputes,
    dp: this.disputes,
    po: this.payouts,
    evt: this.events,
    we: this.webhookEndpoints,
    ephkey: this.ephemeralKeys,
    tml: this.locations,
    tmr: this.readers,
  };

  /** Any object by id (used by `expand`). */
  lookup(id: string): StripeObject | undefined {
    const u = id.indexOf('_');
    if (u <= 0) return undefined;
    return this.byPrefix[id.slice(0, u)]?.get(id);
  }

  addBalance(currency: string, amount: number, status: 'available' | 'pending'): void {
    const m = this.balance[status];
    m.set(currency, (m.get(currency) ?? 0) + amount);
  }

  /** Record that `txn` is part of payout `payoutId` (kept out of the objects themselves). */
  addToPayout(payoutId: string, txn: StripeObject): void {
    this.payoutOfTxn.set(txn.id, payoutId);
    let txns = this.txnsOfPayout.get(payoutId);
    if (!txns) this.txnsOfPayout.set(payoutId, (txns = new Collection<StripeObject>()));
    txns.insert(txn);
  }

  clear(): void {
    for (const c of Object.values(this)) if (c instanceof Collection) c.clear();
    this.pmInternal.clear();
    this.piInternal.clear();
    this.endpointInternal.clear();
    this.refundsByCharge.clear();
    this.payoutOfTxn.clear();
    this.txnsOfPayout.clear();
    this.balance.available.clear();
    this.balance.pending.clear();
  }
}
