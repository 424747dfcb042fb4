import { Controller, Get, Param, Query } from '@nestjs/common';
import { currency } from '@omnipay/contracts';
import { z } from 'zod';
import { ApiError, parseInput } from '../common/http-errors';
import { payoutView } from './payout.model';
import { PAYOUT_STATUSES } from './payout-state';
import { PayoutsRepository } from './payouts.repository';
import { PayoutsService } from './payouts.service';

const payoutId = z.string().regex(/^po_[A-Za-z0-9_]{1,120}$/, 'a Stripe payout id (po_…)');

const listQuery = z
  .object({
    currency: currency.optional(),
    status: z.enum(PAYOUT_STATUSES).optional(),
    cursor: z.string().max(300).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();

const linesQuery = z
  .object({
    cursor: z.string().max(300).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
function decode<T>(c: string, ok: (v: unknown) => v is T): T {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (ok(v)) return v;
  } catch {
    /* fall through */
  }
  throw new ApiError(400, 'invalid_cursor', 'cursor is not one this API returned');
}
const isPayoutCursor = (v: unknown): v is [string, string] =>
  Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' && !Number.isNaN(Date.parse(v[0]));
const isLineCursor = (v: unknown): v is [string] => Array.isArray(v) && v.length === 1 && typeof v[0] === 'string';

/** Stripe payouts matched with the balance transactions they paid out, for finance (decision 0019). */
@Controller('reconciliation/payouts')
export class PayoutsController {
  constructor(
    private readonly payouts: PayoutsService,
    private readonly repo: PayoutsRepository,
  ) {}

  /** Newest arrival first. */
  @Get()
  async list(@Query() raw: unknown) {
    const q = parseInput(listQuery, raw);
    const after = q.cursor ? decode(q.cursor, isPayoutCursor) : undefined;
    const rows = await this.repo.list(q.limit + 1, after && { arrivalDate: after[0], id: after[1] }, q);
    const page = rows.slice(0, q.limit).map(payoutView);
    const last = page[page.length - 1];
    return { data: page, nextCursor: rows.length > q.limit && last ? encode([last.arrivalDate, last.payoutId]) : null };
  }

  @Get(':payoutId')
  async get(@Param('payoutId') id: string) {
    return payoutView(await this.payouts.get(parseInput(payoutId, id)));
  }

  /** The balance transactions the payout paid out, each with the entry (order, channel, store) that names it. */
  @Get(':payoutId/lines')
  async lines(@Param('payoutId') rawId: string, @Query() raw: unknown) {
    const id = parseInput(payoutId, rawId);
    const q = parseInput(linesQuery, raw);
    const payout = await this.payouts.get(id); // 404 for a payout the platform has not seen
    if (payout.lines_pruned_at)
      throw new ApiError(
        410,
        'payout_lines_expired',
        `the lines of a payout are kept ${this.payouts.linesKeptDays} days after its reconciliation (PAYOUT_LINES_RETENTION_DAYS); its result keeps the totals and problems`,
      );
    const rows = await this.repo.lines(id, q.limit + 1, q.cursor ? decode(q.cursor, isLineCursor)[0] : undefined);
    const page = rows.slice(0, q.limit).map((r) => ({
      balanceTransactionId: String(r.txn_id),
      type: r.type,
      reportingCategory: r.reporting_category,
      sourceId: r.source_id,
      gross: Number(r.amount),
      fee: Number(r.fee),
      net: Number(r.net),
      currency: r.currency,
      createdAt: new Date(r.created as string).toISOString(),
      // The platform's entry for this line, or null: another integration's transaction, or one missing its entry.
      entry: r.entry_id
        ? { entryId: r.entry_id, kind: r.kind, orderId: r.order_id, paymentIntentId: r.payment_intent_id, channel: r.channel, storeId: r.store_id }
        : null,
    }));
    const last = page[page.length - 1];
    return { data: page, nextCursor: rows.length > q.limit && last ? encode([last.balanceTransactionId]) : null };
  }
}
