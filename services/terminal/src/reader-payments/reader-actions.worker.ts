import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { JsonLogger, metricsRegistry } from '@omnipay/observability';
import { APP_CONFIG } from '@omnipay/platform';
import { Counter } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import { ApiError } from '../common/http-errors';
import { UpstreamClient } from '../common/upstream.client';
import type { TerminalConfig } from '../config';
import { ReadersService } from '../readers/readers.service';
import { toAction, type ReaderAction } from './reader-action.model';
import { ReaderPaymentsService, type PaymentView } from './reader-payments.service';

const captures = new Counter({
  name: 'terminal_captures_total',
  help: 'Captures of reader payments by outcome',
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});

const checks = new Counter({
  name: 'terminal_reader_checks_total',
  help: 'In-progress reader actions Stripe was quiet about, read from Stripe, by what was found (running, undecided, settled_elsewhere, succeeded, failed, error)',
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});

/**
 * The background half of reader payments, run at startup and then every TERMINAL_SWEEP_MS:
 * - captures succeeded actions (exactly once: the row is locked while payments is called, and the call carries
 *   the idempotency key recorded with the success, so a crash anywhere in between repeats the same capture);
 * - reads from Stripe what became of in-progress actions it has been quiet about (READER_CHECK_MS), so a lost or
 *   late event does not keep the customer waiting until the deadline;
 * - times out actions whose reader never answered (cancel at Stripe, then `timed_out`).
 */
@Injectable()
export class ReaderActionsWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private running = false;
  /**
   * Actions this replica failed to time out (Stripe refusing the cancel, the reader offline), and when to try again:
   * from twice the sweep interval, doubling to a minute, instead of on every sweep. Left out of the query meanwhile,
   * so a few stuck actions do not keep the others from their turn.
   */
  private readonly timeOutRetries = new Map<string, { attempts: number; at: number }>();
  private stopped = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly readers: ReadersService,
    private readonly payments: ReaderPaymentsService,
    private readonly upstream: UpstreamClient,
    private readonly logger: JsonLogger,
    @Inject(APP_CONFIG) private readonly config: TerminalConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  onModuleDestroy(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.captureDue();
      await this.checkQuietActions();
      await this.timeOutSilentReaders();
    } catch (error) {
      this.logger.pino.error({ err: error }, 'reader actions sweep failed');
    } finally {
      this.running = false;
      this.schedule(this.config.TERMINAL_SWEEP_MS);
    }
  }

  private async captureDue(): Promise<void> {
    const due = await this.dataSource.query<{ id: string }[]>(
      `SELECT id FROM reader_actions
       WHERE capture_status = 'pending' AND next_capture_at <= now() AND ($1 OR capture_requested)
       ORDER BY next_capture_at LIMIT 20`,
      [this.config.TERMINAL_AUTO_CAPTURE],
    );
    for (const { id } of due) {
      await this.dataSource
        .transaction((m) => this.captureOne(m, id))
        .catch((error: unknown) => {
          this.logger.pino.warn(
            { actionId: id, err: error instanceof Error ? error.message : String(error) },
            'capture attempt failed',
          );
        });
    }
  }

  /**
   * Captures one succeeded action under its row lock (SKIP LOCKED: another replica or the manual route is on it).
   * Payments only captures a payment it knows is authorised, so until its consumer has seen the authorisation we
   * wait and retry rather than send the capture (a refused capture would be remembered under our key).
   */
  captureOne = async (m: EntityManager, id: string): Promise<void> => {
    const [row] = await m.query<Record<string, unknown>[]>(
      `SELECT * FROM reader_actions WHERE id = $1 AND capture_status = 'pending' FOR UPDATE SKIP LOCKED`,
      [id],
    );
    if (!row) return;
    const a = toAction(row);
    const log = { actionId: a.id, orderId: a.orderId, paymentId: a.paymentId };
    try {
      const current = await this.upstream.payments<PaymentView>(
        'GET',
        `/payments/${encodeURIComponent(a.paymentId!)}`,
      );
      if (current.status !== 200) return await this.later(m, a, `payments answered ${current.status}`);
      const p = current.body;
      if (p.status === 'succeeded') return await this.captured(m, a, p);
      if (p.status === 'canceled') return await this.failed(m, a, 'the payment was canceled before capture');
      if (p.status !== 'requires_capture')
        return await this.later(m, a, `payment is ${p.status}; waiting for the authorisation`);
      const answer = await this.upstream.payments<PaymentView>(
        'POST',
        `/payments/${encodeURIComponent(a.paymentId!)}/capture`,
        a.amountToCapture ? { amountToCapture: a.amountToCapture } : {},
        { 'idempotency-key': a.captureIdempotencyKey! },
      );
      if (answer.status === 200) {
        this.logger.pino.info(
          { ...log, amountReceived: answer.body.amountReceived },
          'reader payment captured',
        );
        return await this.captured(m, a, answer.body);
      }
      const code =
        (answer.body as { error?: { code?: string } } | undefined)?.error?.code ?? String(answer.status);
      if (answer.status >= 500 || code === 'request_in_progress')
        return await this.later(m, a, `capture: ${code}`);
      this.logger.pino.error({ ...log, code }, 'payments refused the capture');
      return await this.failed(m, a, `payments refused the capture: ${code}`);
    } catch (error) {
      const reason =
        error instanceof ApiError ? error.code : error instanceof Error ? error.message : String(error);
      await this.later(m, a, reason);
    }
  };

  private async captured(m: EntityManager, a: ReaderAction, p: PaymentView): Promise<void> {
    captures.inc({ outcome: 'captured' });
    await m.query(
      `UPDATE reader_actions SET capture_status = 'captured', captured_amount = $2, captured_at = now(),
         capture_attempts = capture_attempts + 1, capture_error = NULL, updated_at = now() WHERE id = $1`,
      [a.id, p.amountReceived],
    );
  }

  private async failed(m: EntityManager, a: ReaderAction, reason: string): Promise<void> {
    captures.inc({ outcome: 'failed' });
    await m.query(
      `UPDATE reader_actions SET capture_status = 'failed', capture_error = $2, capture_attempts = capture_attempts + 1,
         updated_at = now() WHERE id = $1`,
      [a.id, reason.slice(0, 500)],
    );
  }

  /** Backoff: 250 ms doubling to 30 s. */
  private async later(m: EntityManager, a: ReaderAction, reason: string): Promise<void> {
    captures.inc({ outcome: 'retry' });
    const delay = Math.min(250 * 2 ** Math.min(a.captureAttempts, 10), 30_000);
    await m.query(
      `UPDATE reader_actions SET capture_attempts = capture_attempts + 1, capture_error = $2,
         next_capture_at = now() + ($3 || ' milliseconds')::interval, updated_at = now() WHERE id = $1`,
      [a.id, reason.slice(0, 500), String(delay)],
    );
  }

  /**
   * In-progress actions with no word from Stripe (no transition, no check) for READER_CHECK_MS: each is stamped as
   * checked, then read (see `settleIfFinished`). Replicas take different rows (SKIP LOCKED) and one check a stamp.
   */
  private async checkQuietActions(): Promise<void> {
    if (this.config.READER_CHECK_MS === 0) return;
    const [rows] = await this.dataSource.query<[Record<string, unknown>[], number]>(
      `UPDATE reader_actions SET checked_at = now()
       WHERE id IN (
         SELECT id FROM reader_actions
         WHERE state = 'in_progress' AND deadline_at >= now()
           AND COALESCE(checked_at, updated_at) < now() - make_interval(secs => $1::float8 / 1000)
         ORDER BY COALESCE(checked_at, updated_at) LIMIT 20 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [this.config.READER_CHECK_MS],
    );
    for (const action of rows.map(toAction)) {
      const log = { actionId: action.id, readerId: action.readerId, orderId: action.orderId };
      try {
        const reader = await this.readers.byId(action.readerId);
        const { outcome } = await this.payments.settleIfFinished(reader, action);
        checks.inc({ outcome });
        if (outcome === 'succeeded' || outcome === 'failed')
          this.logger.pino.warn({ ...log, state: outcome }, 'reader action settled from Stripe: its event was lost or is late');
      } catch (error) {
        checks.inc({ outcome: 'error' });
        this.logger.pino.warn(
          { ...log, err: error instanceof ApiError ? error.code : error instanceof Error ? error.message : String(error) },
          'could not check a quiet reader action; will retry',
        );
      }
    }
  }

  /**
   * Actions past their deadline. A pending one gets a grace period: its start request may still be talking to
   * payments or Stripe, and cancelling under it would leave a reader action nobody follows. After it, a pending
   * action whose reader runs our PaymentIntent is followed, not cancelled (its hand-off landed late, decision 0022).
   */
  private async timeOutSilentReaders(): Promise<void> {
    const now = Date.now();
    const waiting = [...this.timeOutRetries].filter(([, r]) => r.at > now).map(([id]) => id);
    const rows = await this.dataSource.query<Record<string, unknown>[]>(
      `SELECT * FROM reader_actions
       WHERE ((state = 'in_progress' AND deadline_at < now())
          OR (state = 'pending' AND deadline_at < now() - make_interval(secs => $1::float8 / 1000)))
         AND NOT (id = ANY($2::text[]))
       ORDER BY deadline_at LIMIT 20`,
      [this.config.READER_PENDING_GRACE_MS, waiting],
    );
    const due = new Set(rows.map((r) => String(r.id)));
    // Entries of actions settled meanwhile (by their event, the cashier or another replica) are dropped.
    for (const [id, r] of this.timeOutRetries) if (r.at <= now && !due.has(id)) this.timeOutRetries.delete(id);
    for (const action of rows.map(toAction)) {
      try {
        const reader = await this.readers.byId(action.readerId);
        const followed = await this.payments.followIfRunning(reader, action);
        if (followed) {
          this.logger.pino.warn(
            { actionId: action.id, readerId: action.readerId, orderId: action.orderId, state: followed.state },
            'a pending reader action runs on the reader after all; followed',
          );
          continue;
        }
        const after = await this.payments.stop(reader, action, 'timed_out');
        this.timeOutRetries.delete(action.id);
        this.logger.pino.warn(
          { actionId: action.id, readerId: action.readerId, orderId: action.orderId, state: after.state },
          'reader action past its deadline settled',
        );
      } catch (error) {
        const attempts = (this.timeOutRetries.get(action.id)?.attempts ?? 0) + 1;
        const delay = Math.min(this.config.TERMINAL_SWEEP_MS * 2 ** Math.min(attempts, 10), 60_000);
        this.timeOutRetries.set(action.id, { attempts, at: Date.now() + delay });
        this.logger.pino.warn(
          {
            actionId: action.id,
            attempts,
            retryInMs: delay,
            err:
              error instanceof ApiError ? error.code : error instanceof Error ? error.message : String(error),
          },
          'could not time out a reader action; will retry',
        );
      }
    }
  }
}
