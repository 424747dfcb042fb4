import { Injectable } from '@nestjs/common';
import { ReaderActionChanged, type OrderId, type ReaderId, type StoreId } from '@omnipay/contracts';
import { OutboxService } from '@omnipay/messaging';
import type { EntityManager } from 'typeorm';
import { conflict } from '../common/http-errors';
import { deterministicUuid } from '../common/ids';
import { announcedStatus, canTransition, type ReaderActionState } from './reader-action-state';
import { toAction, type ReaderAction } from './reader-action.model';

export interface NewAction {
  id: string;
  readerId: string;
  storeId: string;
  orderId: string;
  customerId: string | null;
  amount: number;
  currency: string;
  amountToCapture: number | null;
  attempt: number;
  deadlineAt: Date;
}

export interface TransitionDetails {
  failureCode?: string | null;
  failureMessage?: string | null;
}

/** Reader action rows; every state change goes through `transition` (table check + outbox event, one transaction). */
@Injectable()
export class ReaderActionsRepository {
  constructor(private readonly outbox: OutboxService) {}

  /** Reserves the reader and the order: a second active action on either is a 409, decided by the unique indexes. */
  async insertPending(m: EntityManager, a: NewAction): Promise<ReaderAction> {
    try {
      const [row] = await m.query<Record<string, unknown>[]>(
        `INSERT INTO reader_actions (id, reader_id, store_id, order_id, customer_id, amount, currency, amount_to_capture,
           attempt, state, deadline_at)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'pending',$10) RETURNING *`,
        [
          a.id,
          a.readerId,
          a.storeId,
          a.orderId,
          a.customerId,
          a.amount,
          a.currency,
          a.amountToCapture,
          a.attempt,
          a.deadlineAt,
        ],
      );
      return toAction(row);
    } catch (error) {
      const e = error as { code?: string; constraint?: string };
      if (e.code === '23505' && e.constraint === 'reader_actions_one_per_reader')
        throw conflict(
          'reader_busy',
          'the reader is already running an action; cancel it or wait for it to finish',
        );
      if (e.code === '23505' && e.constraint === 'reader_actions_one_per_order')
        throw conflict('order_payment_in_progress', `order ${a.orderId} is already being paid on a reader`);
      throw error;
    }
  }

  async byId(m: EntityManager, id: string, lock = false): Promise<ReaderAction | null> {
    const [row] = await m.query<Record<string, unknown>[]>(
      `SELECT * FROM reader_actions WHERE id = $1${lock ? ' FOR UPDATE' : ''}`,
      [id],
    );
    return row ? toAction(row) : null;
  }

  /** A pending action whose hand-off is unconfirmed: due for the sweeper (after its grace for pending actions). */
  async settleSoon(m: EntityManager, id: string): Promise<void> {
    await m.query(`UPDATE reader_actions SET deadline_at = now(), updated_at = now() WHERE id = $1 AND state = 'pending'`, [id]);
  }

  async setDeadline(m: EntityManager, id: string, at: Date): Promise<void> {
    await m.query(`UPDATE reader_actions SET deadline_at = $2, updated_at = now() WHERE id = $1`, [id, at]);
  }

  async activeForReader(m: EntityManager, readerId: string, lock = false): Promise<ReaderAction | null> {
    const [row] = await m.query<Record<string, unknown>[]>(
      `SELECT * FROM reader_actions WHERE reader_id = $1 AND state IN ('pending','in_progress')${lock ? ' FOR UPDATE' : ''}`,
      [readerId],
    );
    return row ? toAction(row) : null;
  }

  async latestForReader(m: EntityManager, readerId: string): Promise<ReaderAction | null> {
    const [row] = await m.query<Record<string, unknown>[]>(
      `SELECT * FROM reader_actions WHERE reader_id = $1 ORDER BY created_at DESC LIMIT 1`,
      [readerId],
    );
    return row ? toAction(row) : null;
  }

  /** The action of this reader for this PaymentIntent that an event is about: the running one, else the latest. */
  async forReaderAndIntent(
    m: EntityManager,
    readerId: string,
    paymentIntentId: string,
  ): Promise<ReaderAction | null> {
    const [row] = await m.query<Record<string, unknown>[]>(
      `SELECT * FROM reader_actions WHERE reader_id = $1 AND payment_intent_id = $2
       ORDER BY (state IN ('pending','in_progress')) DESC, created_at DESC LIMIT 1 FOR UPDATE`,
      [readerId, paymentIntentId],
    );
    return row ? toAction(row) : null;
  }

  async succeededForOrder(m: EntityManager, orderId: string): Promise<ReaderAction | null> {
    const [row] = await m.query<Record<string, unknown>[]>(
      `SELECT * FROM reader_actions WHERE order_id = $1 AND state = 'succeeded' ORDER BY created_at DESC LIMIT 1`,
      [orderId],
    );
    return row ? toAction(row) : null;
  }

  async listForStore(
    m: EntityManager,
    storeId: string,
    orderId?: string,
    limit = 50,
  ): Promise<ReaderAction[]> {
    const rows = await m.query<Record<string, unknown>[]>(
      `SELECT * FROM reader_actions WHERE store_id = $1 AND ($2::text IS NULL OR order_id = $2)
       ORDER BY created_at DESC LIMIT $3`,
      [storeId, orderId ?? null, limit],
    );
    return rows.map(toAction);
  }

  /** False when the action is no longer pending (cancelled or timed out meanwhile): nothing attached. */
  async attachPayment(
    m: EntityManager,
    id: string,
    paymentId: string,
    paymentIntentId: string,
  ): Promise<boolean> {
    const [, count] = await m.query<[unknown[], number]>(
      `UPDATE reader_actions SET payment_id = $2, payment_intent_id = $3, updated_at = now() WHERE id = $1 AND state = 'pending'`,
      [id, paymentId, paymentIntentId],
    );
    return count > 0;
  }

  /**
   * Moves an action along the state table, only from the state it was read in (a concurrent writer that got
   * there first wins; we get null). A success arms the capture: status `pending` and the idempotency key the
   * capture call will carry, recorded with the fact, so a restart captures with the same key.
   */
  async transition(
    m: EntityManager,
    action: ReaderAction,
    to: ReaderActionState,
    details: TransitionDetails = {},
  ): Promise<ReaderAction | null> {
    if (!canTransition(action.state, to)) return null;
    const final = to !== 'in_progress';
    const [rows] = await m.query<[Record<string, unknown>[], number]>(
      `UPDATE reader_actions SET state = $3,
         failure_code = CASE WHEN $3 = 'succeeded' THEN NULL ELSE COALESCE($4, failure_code) END,
         failure_message = CASE WHEN $3 = 'succeeded' THEN NULL ELSE COALESCE($5, failure_message) END,
         capture_status = CASE WHEN $3 = 'succeeded' THEN 'pending' ELSE capture_status END,
         capture_idempotency_key = CASE WHEN $3 = 'succeeded' THEN 'terminal.capture:' || id ELSE capture_idempotency_key END,
         next_capture_at = CASE WHEN $3 = 'succeeded' THEN now() ELSE next_capture_at END,
         finished_at = CASE WHEN $6 THEN now() ELSE finished_at END,
         updated_at = now()
       WHERE id = $1 AND state = $2 RETURNING *`,
      [action.id, action.state, to, details.failureCode ?? null, details.failureMessage ?? null, final],
    );
    if (!rows || rows.length === 0) return null;
    const after = toAction(rows[0]);
    const status = announcedStatus(to);
    if (status) {
      await this.outbox.add(
        m,
        ReaderActionChanged,
        {
          readerId: after.readerId as ReaderId,
          storeId: after.storeId as StoreId,
          orderId: after.orderId as OrderId,
          paymentIntentId: after.paymentIntentId,
          status,
          failureCode: after.failureCode,
        },
        { id: deterministicUuid(`${after.id}:${status}`) },
      );
    }
    return after;
  }
}
