import type { MessageDefinition } from '@omnipay/contracts';
import { currentContext } from '@omnipay/observability';
import type { EnvelopeOptions, OutboxItem, OutboxRow, OutboxService } from '@omnipay/messaging';
import type { EntityManager } from 'typeorm';
import { together, type Statement } from '@omnipay/persistence';
import { asReleased } from './held-facts';
import { toPayment, type Payment } from './payment.model';
import type { PaymentsRepository } from './payments.repository';

type Row = Record<string, unknown>;
export type ReconciliationKind = 'charge' | 'refund' | 'dispute';

export interface RefundRequestDetails {
  reason: string;
  returned_items: { sku: string; quantity: number }[];
  return_store_id: string | null;
}

/**
 * Everything the payment state machine reads and writes, inside one transaction. `SqlPaymentStore` runs each
 * call as a statement (API answers, janitor: one observation per transaction); `BatchPaymentStore` loads what a
 * chunk of Stripe events touches once, locked, applies the calls to that copy and writes the end state back in
 * a few set-based statements. The state machine code is the same for both, so a chunk ends exactly where
 * applying its events one by one would.
 */
export interface PaymentStore {
  /** Each lookup locks the payment row for the rest of the transaction. */
  byId(id: string): Promise<Payment | undefined>;
  byIntent(paymentIntentId: string): Promise<Payment | undefined>;
  byCharge(chargeId: string): Promise<Payment | undefined>;
  update(id: string, fields: Record<string, unknown>): Promise<void>;
  /** false when the key was recorded before (the transition was already applied and announced). */
  recordTransition(paymentId: string, key: string, toStatus: string | null, source: string): Promise<boolean>;
  enqueueReconciliation(sourceId: string, kind: ReconciliationKind, paymentId: string, reopen?: boolean): Promise<void>;
  /** Status of a refund we know (row locked), or undefined. */
  refundStatus(refundId: string): Promise<string | undefined>;
  insertRefund(r: { refundId: string; paymentId: string; requestId: string | null; amount: number; status: string }): Promise<void>;
  setRefundStatus(refundId: string, status: string): Promise<void>;
  /** Links our refund request to Stripe's refund, unless the request already failed. */
  markRefundRequest(requestId: string, refundId: string, status: string): Promise<void>;
  succeededRefundTotal(paymentId: string): Promise<number>;
  amounts(paymentId: string): Promise<PaymentAmounts>;
  refundRequest(requestId: string): Promise<RefundRequestDetails | undefined>;
  emit(definition: MessageDefinition, data: Record<string, unknown>, opts: EnvelopeOptions): Promise<void>;
  /** Keeps a message back, built as it will be published, until `releaseHeld` for its payment. */
  hold(paymentId: string, definition: MessageDefinition, data: Record<string, unknown>, opts: EnvelopeOptions): Promise<void>;
  /**
   * Adds the payment's held messages to the outbox, in the order they were held, after what was emitted so far, as
   * `asReleased` makes them with the amount the payment captured (0: nothing captured).
   */
  releaseHeld(paymentId: string, amountCaptured: number): Promise<number>;
}

export interface PaymentAmounts {
  amountRefunded: number;
  /** Stripe `created` of the observation `amountRefunded` came from. */
  amountRefundedObservedAt: number;
  amountReceived: number;
  /** How many refund facts (`payment.refunded`, `payment.refund_failed`) were announced so far. */
  refundSeq: number;
}

/** A statement per call, in the caller's transaction. */
export class SqlPaymentStore implements PaymentStore {
  constructor(
    private readonly m: EntityManager,
    private readonly repo: PaymentsRepository,
    private readonly outbox: OutboxService,
  ) {}

  byId(id: string) {
    return this.repo.byId(this.m, id, true);
  }
  byIntent(paymentIntentId: string) {
    return this.repo.byIntent(this.m, paymentIntentId, true);
  }
  byCharge(chargeId: string) {
    return this.repo.byCharge(this.m, chargeId, true);
  }
  update(id: string, fields: Record<string, unknown>) {
    return this.repo.update(this.m, id, fields);
  }
  recordTransition(paymentId: string, key: string, toStatus: string | null, source: string) {
    return this.repo.recordTransition(this.m, paymentId, key, toStatus, source);
  }
  enqueueReconciliation(sourceId: string, kind: ReconciliationKind, paymentId: string, reopen = kind === 'dispute') {
    return this.repo.enqueueReconciliation(this.m, sourceId, kind, paymentId, reopen);
  }
  async refundStatus(refundId: string) {
    const [row] = await this.m.query<{ status: string }[]>('SELECT status FROM refunds WHERE refund_id = $1 FOR UPDATE', [
      refundId,
    ]);
    return row?.status;
  }
  async insertRefund(r: { refundId: string; paymentId: string; requestId: string | null; amount: number; status: string }) {
    await this.m.query(
      `INSERT INTO refunds (refund_id, payment_id, refund_request_id, amount, status) VALUES ($1,$2,$3,$4,$5)`,
      [r.refundId, r.paymentId, r.requestId, r.amount, r.status],
    );
  }
  async setRefundStatus(refundId: string, status: string) {
    await this.m.query('UPDATE refunds SET status = $2, updated_at = now() WHERE refund_id = $1', [refundId, status]);
  }
  async markRefundRequest(requestId: string, refundId: string, status: string) {
    await this.m.query(
      `UPDATE refund_requests SET refund_id = $2, status = $3, updated_at = now() WHERE id = $1 AND status <> 'failed'`,
      [requestId, refundId, status],
    );
  }
  async succeededRefundTotal(paymentId: string) {
    const [{ known }] = await this.m.query<{ known: string }[]>(
      `SELECT COALESCE(SUM(amount),0)::int8 AS known FROM refunds WHERE payment_id = $1 AND status = 'succeeded'`,
      [paymentId],
    );
    return Number(known);
  }
  async amounts(paymentId: string) {
    const [row] = await this.m.query<
      { amount_refunded: string; amount_refunded_observed_at: string; amount_received: string; refund_seq: number }[]
    >(
      'SELECT amount_refunded, amount_refunded_observed_at, amount_received, refund_seq FROM payments WHERE id = $1',
      [paymentId],
    );
    return {
      amountRefunded: Number(row.amount_refunded),
      amountRefundedObservedAt: Number(row.amount_refunded_observed_at),
      amountReceived: Number(row.amount_received),
      refundSeq: Number(row.refund_seq),
    };
  }
  async refundRequest(requestId: string) {
    const [row] = await this.m.query<RefundRequestDetails[]>(
      'SELECT reason, returned_items, return_store_id FROM refund_requests WHERE id = $1',
      [requestId],
    );
    return row;
  }
  async emit(definition: MessageDefinition, data: Record<string, unknown>, opts: EnvelopeOptions) {
    await this.outbox.add(this.m, definition, data as never, opts);
  }
  async hold(paymentId: string, definition: MessageDefinition, data: Record<string, unknown>, opts: EnvelopeOptions) {
    const r = this.outbox.row({ definition, data, opts });
    await this.m.query(
      `WITH held AS (INSERT INTO held_facts (payment_id, id, topic, key, payload, headers) VALUES ($1,$2,$3,$4,$5,$6)
                     ON CONFLICT (id) DO NOTHING RETURNING 1)
       UPDATE payments SET held_facts = held_facts + (SELECT count(*) FROM held) WHERE id = $1`,
      [paymentId, r.id, r.topic, r.key, r.payload, r.headers],
    );
  }
  async releaseHeld(paymentId: string, amountCaptured: number) {
    const released = await this.m.query<OutboxRow[]>(
      `WITH released AS (DELETE FROM held_facts WHERE payment_id = $1 RETURNING seq, id, topic, key, payload, headers),
            reset AS (UPDATE payments SET held_facts = 0 WHERE id = $1 AND held_facts <> 0)
       SELECT id, topic, key, payload, headers FROM released ORDER BY seq`,
      [paymentId],
    );
    // Inserted in the order they were held, behind what this transaction added: the relay publishes by the outbox's seq.
    const rows = released.map((r) => asReleased(r, amountCaptured)).filter((r) => r !== undefined);
    const insert = this.outbox.insertion(this.m, rows);
    if (insert) await this.m.query(insert.sql, insert.params);
    return released.length;
  }
}

/** What a chunk of Stripe events may touch: the keys the state machine will look payments and refunds up by. */
export interface BatchKeys {
  paymentIds: Set<string>;
  paymentIntentIds: Set<string>;
  chargeIds: Set<string>;
  refundIds: Set<string>;
  refundRequestIds: Set<string>;
}

export const emptyKeys = (): BatchKeys => ({
  paymentIds: new Set(),
  paymentIntentIds: new Set(),
  chargeIds: new Set(),
  refundIds: new Set(),
  refundRequestIds: new Set(),
});

interface RefundRow {
  paymentId: string;
  requestId: string | null;
  amount: number;
  status: string;
}
interface RefundRequestRow extends RefundRequestDetails {
  status: string;
  refund_id: string | null;
}

type Written = { id: string; updated_at: unknown };

/** Payment columns the state machine writes; the bulk write-back sets them all from the working copy. */
const WRITABLE = [
  ['payment_intent_id', 'text'],
  ['status', 'text'],
  ['cycle', 'int'],
  ['status_observed_at', 'bigint'],
  ['amount_capturable', 'bigint'],
  ['amount_received', 'bigint'],
  ['amount_refunded', 'bigint'],
  ['amount_refunded_observed_at', 'bigint'],
  ['charge_id', 'text'],
  ['failure_code', 'text'],
  ['decline_code', 'text'],
  ['failure_message', 'text'],
  ['disputed', 'boolean'],
  ['refund_seq', 'int'],
  ['held_facts', 'int'],
] as const;
const WRITABLE_NAMES = new Set<string>(WRITABLE.map(([c]) => c));

/** As `PaymentsRepository.enqueueReconciliation`: a new generation, so a worker pass under way cannot close it. */
const REOPEN =
  'UPDATE SET done_at = NULL, next_attempt_at = now(), attempts = 0, generation = reconciliation_sources.generation + 1';

/**
 * A working copy of the rows a chunk touches, loaded with one locking SELECT per table (payments in id order, so
 * two chunks lock in the same order, each with the transitions it already announced), changed in memory in event
 * order, written back by `flush`. Only rows loaded here can be found: `load` must be given every key the events
 * will look up.
 */
export class BatchPaymentStore implements PaymentStore {
  private readonly payments = new Map<string, Row>();
  private readonly dirty = new Set<string>();
  private readonly transitions = new Set<string>();
  private readonly newTransitions: { paymentId: string; key: string; toStatus: string | null; source: string }[] = [];
  private refunds?: Map<string, RefundRow>;
  private readonly newRefunds = new Set<string>();
  private readonly changedRefunds = new Set<string>();
  private requests?: Map<string, RefundRequestRow>;
  private readonly changedRequests = new Set<string>();
  /** source id → (kind and payment of the first enqueue, reopen if any enqueue asked for it) */
  private readonly reconciliation = new Map<string, { kind: ReconciliationKind; paymentId: string; reopen: boolean }>();
  private readonly messages: (OutboxItem | OutboxRow)[] = [];
  /** Held messages per payment: those loaded (still in `held_facts`) and those this chunk held. */
  private readonly held = new Map<string, { row: OutboxRow; stored: boolean }[]>();
  private readonly releasedStored: string[] = [];

  private constructor(
    private readonly m: EntityManager,
    private readonly outbox: OutboxService,
  ) {}

  static async load(m: EntityManager, outbox: OutboxService, keys: BatchKeys): Promise<BatchPaymentStore> {
    const store = new BatchPaymentStore(m, outbox);
    if (keys.paymentIds.size + keys.paymentIntentIds.size + keys.chargeIds.size > 0) {
      // Each payment with the keys of the transitions it already announced, in one round trip.
      const rows = await m.query<(Row & { known_transitions: string[] })[]>(
        `SELECT p.*, ARRAY(SELECT t.transition_key FROM payment_transitions t WHERE t.payment_id = p.id) AS known_transitions
           FROM payments p
          WHERE p.id = ANY($1::text[]) OR p.payment_intent_id = ANY($2::text[]) OR p.charge_id = ANY($3::text[])
          ORDER BY p.id FOR UPDATE OF p`,
        [[...keys.paymentIds], [...keys.paymentIntentIds], [...keys.chargeIds]],
      );
      for (const { known_transitions, ...r } of rows) {
        store.payments.set(String(r.id), r as Row);
        for (const key of known_transitions) store.transitions.add(`${String(r.id)}\n${key}`);
      }
      // The held messages, read by a statement of their own (after the lock: a sub-select above would see them as
      // of before a wait for it), and only for payments whose row says they hold some: rarely any.
      const holding = rows.filter((r) => Number(r.held_facts) > 0).map((r) => String(r.id));
      if (holding.length > 0) {
        const held = await m.query<(OutboxRow & { payment_id: string })[]>(
          `SELECT payment_id, id, topic, key, payload, headers FROM held_facts WHERE payment_id = ANY($1::text[]) ORDER BY seq`,
          [holding],
        );
        for (const { payment_id, ...row } of held) {
          const list = store.held.get(payment_id) ?? [];
          list.push({ row, stored: true });
          store.held.set(payment_id, list);
        }
      }
    }
    const ids = [...store.payments.keys()];
    if (keys.refundIds.size > 0 && ids.length > 0) {
      // Every refund of the payments involved: totals are summed over them.
      const rows = await m.query<{ refund_id: string; payment_id: string; refund_request_id: string | null; amount: string; status: string }[]>(
        `SELECT refund_id, payment_id, refund_request_id, amount, status FROM refunds
          WHERE payment_id = ANY($1::text[]) OR refund_id = ANY($2::text[]) ORDER BY refund_id FOR UPDATE`,
        [ids, [...keys.refundIds]],
      );
      store.refunds = new Map(
        rows.map((r) => [
          r.refund_id,
          { paymentId: r.payment_id, requestId: r.refund_request_id, amount: Number(r.amount), status: r.status },
        ]),
      );
    }
    if (keys.refundRequestIds.size > 0 && ids.length > 0) {
      const rows = await m.query<(RefundRequestRow & { id: string })[]>(
        `SELECT id, status, refund_id, reason, returned_items, return_store_id FROM refund_requests
          WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
        [[...keys.refundRequestIds]],
      );
      store.requests = new Map(rows.map(({ id, ...r }) => [id, r]));
    }
    return store;
  }

  private find(match: (r: Row) => boolean): Payment | undefined {
    for (const r of this.payments.values()) if (match(r)) return toPayment(r);
    return undefined;
  }

  async byId(id: string) {
    const r = this.payments.get(id);
    return r ? toPayment(r) : undefined;
  }
  async byIntent(paymentIntentId: string) {
    return this.find((r) => r.payment_intent_id === paymentIntentId);
  }
  async byCharge(chargeId: string) {
    return this.find((r) => r.charge_id === chargeId);
  }

  async update(id: string, fields: Record<string, unknown>) {
    const cols = Object.keys(fields);
    if (cols.length === 0) return;
    const row = this.loaded(id);
    for (const c of cols) {
      if (!WRITABLE_NAMES.has(c)) throw new Error(`BatchPaymentStore cannot write payments.${c}`);
      row[c] = fields[c];
    }
    this.dirty.add(id);
  }

  async recordTransition(paymentId: string, key: string, toStatus: string | null, source: string) {
    this.loaded(paymentId);
    const k = `${paymentId}\n${key}`;
    if (this.transitions.has(k)) return false;
    this.transitions.add(k);
    this.newTransitions.push({ paymentId, key, toStatus, source });
    return true;
  }

  /** Whether this batch queued a charge, refund or dispute for reconciliation (written by `flush`). */
  get queuedReconciliation(): boolean {
    return this.reconciliation.size > 0;
  }

  async enqueueReconciliation(sourceId: string, kind: ReconciliationKind, paymentId: string, reopen = kind === 'dispute') {
    const queued = this.reconciliation.get(sourceId);
    if (queued) queued.reopen ||= reopen;
    else this.reconciliation.set(sourceId, { kind, paymentId, reopen });
  }

  async refundStatus(refundId: string) {
    return this.refundRows().get(refundId)?.status;
  }
  async insertRefund(r: { refundId: string; paymentId: string; requestId: string | null; amount: number; status: string }) {
    const rows = this.refundRows();
    if (rows.has(r.refundId)) throw new Error(`refund ${r.refundId} already exists`); // as the primary key would
    rows.set(r.refundId, { paymentId: r.paymentId, requestId: r.requestId, amount: r.amount, status: r.status });
    this.newRefunds.add(r.refundId);
  }
  async setRefundStatus(refundId: string, status: string) {
    const row = this.refundRows().get(refundId);
    if (!row) return;
    row.status = status;
    this.changedRefunds.add(refundId);
  }
  async markRefundRequest(requestId: string, refundId: string, status: string) {
    const row = this.requestRows().get(requestId);
    if (!row || row.status === 'failed') return;
    row.refund_id = refundId;
    row.status = status;
    this.changedRequests.add(requestId);
  }
  async succeededRefundTotal(paymentId: string) {
    let total = 0;
    for (const r of this.refundRows().values()) if (r.paymentId === paymentId && r.status === 'succeeded') total += r.amount;
    return total;
  }
  async amounts(paymentId: string) {
    const row = this.loaded(paymentId);
    return {
      amountRefunded: Number(row.amount_refunded ?? 0),
      amountRefundedObservedAt: Number(row.amount_refunded_observed_at ?? 0),
      amountReceived: Number(row.amount_received ?? 0),
      refundSeq: Number(row.refund_seq ?? 0),
    };
  }
  async refundRequest(requestId: string) {
    const row = this.requestRows().get(requestId);
    return row ? { reason: row.reason, returned_items: row.returned_items, return_store_id: row.return_store_id } : undefined;
  }

  /** Correlation and causation are taken now, from the event being applied, not when the chunk is flushed. */
  async emit(definition: MessageDefinition, data: Record<string, unknown>, opts: EnvelopeOptions) {
    const ctx = currentContext();
    this.messages.push({
      definition,
      data,
      opts: ctx
        ? { correlationId: ctx.correlationId, causationId: ctx.causationId ?? null, traceparent: ctx.traceparent, ...opts }
        : opts,
    });
  }

  async hold(paymentId: string, definition: MessageDefinition, data: Record<string, unknown>, opts: EnvelopeOptions) {
    const payment = this.loaded(paymentId);
    const list = this.held.get(paymentId) ?? [];
    const row = this.outbox.row({ definition, data, opts });
    if (list.some((h) => h.row.id === row.id)) return; // as the table's unique id would
    list.push({ row, stored: false });
    this.held.set(paymentId, list);
    payment.held_facts = list.length;
    this.dirty.add(paymentId);
  }
  async releaseHeld(paymentId: string, amountCaptured: number) {
    const list = this.held.get(paymentId) ?? [];
    this.held.delete(paymentId);
    const payment = this.loaded(paymentId);
    if (Number(payment.held_facts) !== 0) {
      payment.held_facts = 0;
      this.dirty.add(paymentId);
    }
    for (const { row, stored } of list) {
      const released = asReleased(row, amountCaptured);
      if (released) this.messages.push(released);
      if (stored) this.releasedStored.push(row.id);
    }
    return list.length;
  }

  /**
   * Writes the end state of the chunk: a statement per table that changed, sent together as one statement of
   * data-modifying CTEs (one round trip; the parts touch different rows, and constraints are checked after all
   * of them).
   */
  async flush(): Promise<void> {
    const parts: Statement[] = [];
    const dirty = [...this.dirty].sort().map((id) => this.payments.get(id) as Row);
    if (dirty.length > 0) {
      parts.push({
        sql: `UPDATE payments p SET ${WRITABLE.map(([c]) => `${c} = v.${c}`).join(', ')}, updated_at = now()
                FROM unnest($1::text[], ${WRITABLE.map(([, t], i) => `$${i + 2}::${t}[]`).join(', ')})
                  AS v(id, ${WRITABLE.map(([c]) => c).join(', ')})
               WHERE p.id = v.id RETURNING p.id, p.updated_at`,
        params: [dirty.map((r) => r.id), ...WRITABLE.map(([c]) => dirty.map((r) => r[c] ?? null))],
      });
    }
    if (this.newTransitions.length > 0) {
      const t = this.newTransitions;
      parts.push({
        sql: `INSERT INTO payment_transitions (payment_id, transition_key, to_status, source)
              SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING`,
        params: [t.map((x) => x.paymentId), t.map((x) => x.key), t.map((x) => x.toStatus), t.map((x) => x.source)],
      });
    }
    if (this.newRefunds.size > 0) {
      const ids = [...this.newRefunds];
      const rows = ids.map((id) => this.refundRows().get(id) as RefundRow);
      parts.push({
        sql: `INSERT INTO refunds (refund_id, payment_id, refund_request_id, amount, status)
              SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[])`,
        params: [ids, rows.map((r) => r.paymentId), rows.map((r) => r.requestId), rows.map((r) => r.amount), rows.map((r) => r.status)],
      });
    }
    const changed = [...this.changedRefunds].filter((id) => !this.newRefunds.has(id));
    if (changed.length > 0) {
      parts.push({
        sql: `UPDATE refunds r SET status = v.status, updated_at = now()
                FROM unnest($1::text[], $2::text[]) AS v(refund_id, status) WHERE r.refund_id = v.refund_id`,
        params: [changed, changed.map((id) => this.refundRows().get(id)?.status)],
      });
    }
    if (this.changedRequests.size > 0) {
      const ids = [...this.changedRequests];
      const rows = ids.map((id) => this.requestRows().get(id) as RefundRequestRow);
      parts.push({
        sql: `UPDATE refund_requests r SET refund_id = v.refund_id, status = v.status, updated_at = now()
                FROM unnest($1::text[], $2::text[], $3::text[]) AS v(id, refund_id, status) WHERE r.id = v.id`,
        params: [ids, rows.map((r) => r.refund_id), rows.map((r) => r.status)],
      });
    }
    for (const reopen of [false, true]) {
      const sources = [...this.reconciliation].filter(([, s]) => s.reopen === reopen);
      if (sources.length === 0) continue;
      parts.push({
        sql: `INSERT INTO reconciliation_sources (source_id, kind, payment_id)
              SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
              ON CONFLICT (source_id) DO ${reopen ? REOPEN : 'NOTHING'}`,
        params: [sources.map(([id]) => id), sources.map(([, s]) => s.kind), sources.map(([, s]) => s.paymentId)],
      });
    }
    const holding = [...this.held].flatMap(([paymentId, list]) => list.filter((h) => !h.stored).map((h) => ({ paymentId, ...h.row })));
    if (holding.length > 0) {
      parts.push({
        sql: `INSERT INTO held_facts (payment_id, id, topic, key, payload, headers)
              SELECT * FROM unnest($1::text[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::jsonb[]) ON CONFLICT (id) DO NOTHING`,
        params: [
          holding.map((h) => h.paymentId),
          holding.map((h) => h.id),
          holding.map((h) => h.topic),
          holding.map((h) => h.key),
          holding.map((h) => h.payload),
          holding.map((h) => JSON.stringify(h.headers)),
        ],
      });
    }
    if (this.releasedStored.length > 0) {
      parts.push({ sql: `DELETE FROM held_facts WHERE id = ANY($1::uuid[])`, params: [this.releasedStored] });
    }
    const outbox = this.outbox.insertion(this.m, this.messages);
    if (outbox) parts.push(outbox);
    if (parts.length === 0) return;
    // The payments UPDATE (first when present) answers with each row's new updated_at: the working copy stays
    // the end state, so a caller can answer from it without reading the row again.
    const { sql, params } = together(parts, dirty.length > 0 ? 'SELECT id, updated_at FROM s0' : undefined);
    const written = await this.m.query<Written[]>(sql, params);
    if (dirty.length > 0) for (const w of written) (this.payments.get(w.id) as Row).updated_at = w.updated_at;
  }

  private loaded(id: string): Row {
    const row = this.payments.get(id);
    if (!row) throw new Error(`payment ${id} was not loaded for this batch`);
    return row;
  }
  private refundRows(): Map<string, RefundRow> {
    if (!this.refunds) throw new Error('refunds were not loaded for this batch');
    return this.refunds;
  }
  private requestRows(): Map<string, RefundRequestRow> {
    if (!this.requests) throw new Error('refund requests were not loaded for this batch');
    return this.requests;
  }
}
