import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { toPayment, type Payment } from './payment.model';

/** SQL of the payments tables; every method takes the transaction it runs in. */
@Injectable()
export class PaymentsRepository {
  async byId(m: EntityManager, id: string, lock = false): Promise<Payment | undefined> {
    const rows = await m.query<Record<string, unknown>[]>(
      `SELECT * FROM payments WHERE id = $1 ${lock ? 'FOR UPDATE' : ''}`,
      [id],
    );
    return rows[0] ? toPayment(rows[0]) : undefined;
  }

  async byIntent(m: EntityManager, paymentIntentId: string, lock = false): Promise<Payment | undefined> {
    const rows = await m.query<Record<string, unknown>[]>(
      `SELECT * FROM payments WHERE payment_intent_id = $1 ${lock ? 'FOR UPDATE' : ''}`,
      [paymentIntentId],
    );
    return rows[0] ? toPayment(rows[0]) : undefined;
  }

  async byCharge(m: EntityManager, chargeId: string, lock = false): Promise<Payment | undefined> {
    const rows = await m.query<Record<string, unknown>[]>(
      `SELECT * FROM payments WHERE charge_id = $1 ${lock ? 'FOR UPDATE' : ''}`,
      [chargeId],
    );
    return rows[0] ? toPayment(rows[0]) : undefined;
  }

  async latestForOrder(m: EntityManager, orderId: string): Promise<Payment | undefined> {
    const rows = await m.query<Record<string, unknown>[]>(
      'SELECT * FROM payments WHERE order_id = $1 ORDER BY attempt DESC LIMIT 1',
      [orderId],
    );
    return rows[0] ? toPayment(rows[0]) : undefined;
  }

  async forOrder(m: EntityManager, orderId: string): Promise<Payment[]> {
    const rows = await m.query<Record<string, unknown>[]>(
      'SELECT * FROM payments WHERE order_id = $1 ORDER BY attempt',
      [orderId],
    );
    return rows.map(toPayment);
  }

  /**
   * Inserts the attempt if new; returns the stored row either way (the first writer wins), or `order_cancelled`
   * for a new attempt of an order payments was told is cancelled (checked in the same statement: no round trip).
   */
  async insertAttempt(
    m: EntityManager,
    p: Pick<
      Payment,
      | 'id'
      | 'orderId'
      | 'attempt'
      | 'channel'
      | 'storeId'
      | 'customerId'
      | 'amount'
      | 'currency'
      | 'captureMethod'
      | 'setupFutureUsage'
    >,
  ): Promise<Payment | 'order_cancelled'> {
    const inserted = await m.query<Record<string, unknown>[]>(
      `INSERT INTO payments (id, order_id, attempt, channel, store_id, customer_id, amount, currency, capture_method, setup_future_usage, status)
       SELECT $1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'creating'
        WHERE NOT EXISTS (SELECT 1 FROM cancelled_orders WHERE order_id = $2)
       ON CONFLICT (order_id, attempt) DO NOTHING RETURNING *`,
      [
        p.id,
        p.orderId,
        p.attempt,
        p.channel,
        p.storeId,
        p.customerId,
        p.amount,
        p.currency,
        p.captureMethod,
        p.setupFutureUsage,
      ],
    );
    if (inserted[0]) return toPayment(inserted[0]);
    // A retry, or a concurrent first request that won: this statement sees its committed row. No row: the order
    // was cancelled.
    const rows = await m.query<Record<string, unknown>[]>(
      'SELECT * FROM payments WHERE order_id = $1 AND attempt = $2',
      [p.orderId, p.attempt],
    );
    return rows[0] ? toPayment(rows[0]) : 'order_cancelled';
  }

  /** Records a transition key; false when it was recorded before (the transition was already applied). */
  async recordTransition(
    m: EntityManager,
    paymentId: string,
    key: string,
    toStatus: string | null,
    source: string,
  ): Promise<boolean> {
    const rows = await m.query<unknown[]>(
      `INSERT INTO payment_transitions (payment_id, transition_key, to_status, source) VALUES ($1,$2,$3,$4)
       ON CONFLICT DO NOTHING RETURNING transition_key`,
      [paymentId, key, toStatus, source],
    );
    return rows.length === 1;
  }

  async update(m: EntityManager, id: string, fields: Record<string, unknown>): Promise<void> {
    const cols = Object.keys(fields);
    if (cols.length === 0) return;
    const set = cols.map((c, i) => `${c} = $${i + 2}`).join(', ');
    await m.query(`UPDATE payments SET ${set}, updated_at = now() WHERE id = $1`, [
      id,
      ...cols.map((c) => fields[c]),
    ]);
  }

  /**
   * Queues a charge, refund or dispute for the reconciliation worker. `reopen`: look again even if done — a
   * dispute gains balance transactions over its life, a refund that fails later gets a reversal transaction.
   * A reopen bumps the source's generation, so a worker pass that read Stripe before it cannot close it.
   */
  async enqueueReconciliation(
    m: EntityManager,
    sourceId: string,
    kind: 'charge' | 'refund' | 'dispute',
    paymentId: string,
    reopen = kind === 'dispute',
  ): Promise<void> {
    await m.query(
      `INSERT INTO reconciliation_sources (source_id, kind, payment_id) VALUES ($1,$2,$3)
       ON CONFLICT (source_id) DO UPDATE SET done_at = NULL, next_attempt_at = now(), attempts = 0,
         generation = reconciliation_sources.generation + 1
       WHERE $4::boolean`,
      [sourceId, kind, paymentId, reopen],
    );
  }
}
