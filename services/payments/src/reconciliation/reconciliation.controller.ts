import { Controller, Get, Query } from '@nestjs/common';
import { channel, currency } from '@omnipay/contracts';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { ApiError, parseInput } from '../common/http-errors';

const query = z
  .object({
    day: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD (UTC)')
      .optional(),
    currency: currency.optional(),
    channel: channel.optional(),
    storeId: z.string().min(1).max(128).optional(),
    cursor: z.string().max(300).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

const encodeCursor = (occurredAt: string, entryId: string) =>
  Buffer.from(JSON.stringify([occurredAt, entryId])).toString('base64url');
function decodeCursor(c: string): [string, string] {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      typeof v[1] === 'string' &&
      !Number.isNaN(Date.parse(v[0]))
    ) {
      return [v[0], v[1]];
    }
  } catch {
    /* fall through */
  }
  throw new ApiError(400, 'invalid_cursor', 'cursor is not one this API returned');
}

/** Reconciliation entries for finance (through the gateway), oldest first, keyset-paged. */
@Controller('reconciliation')
export class ReconciliationController {
  constructor(private readonly dataSource: DataSource) {}

  @Get()
  async list(@Query() raw: unknown) {
    const q = parseInput(query, raw);
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (q.day) {
      add(`occurred_at >= (?::date)::timestamp AT TIME ZONE 'UTC'`, q.day);
      add(`occurred_at < ((?::date + 1)::timestamp AT TIME ZONE 'UTC')`, q.day);
    }
    if (q.currency) add('currency = ?', q.currency);
    if (q.channel) add('channel = ?', q.channel);
    if (q.storeId) add('store_id = ?', q.storeId);
    if (q.cursor) {
      const [at, id] = decodeCursor(q.cursor);
      params.push(at, id);
      where.push(`(occurred_at, entry_id) > ($${params.length - 1}::timestamptz, $${params.length})`);
    }
    params.push(q.limit + 1);
    const rows = await this.dataSource.query<Record<string, unknown>[]>(
      `SELECT * FROM reconciliation_entries ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY occurred_at, entry_id LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, q.limit).map((r) => ({
      entryId: r.entry_id,
      kind: r.kind,
      orderId: r.order_id,
      paymentId: r.payment_id,
      paymentIntentId: r.payment_intent_id,
      chargeId: r.charge_id,
      sourceId: r.source_id,
      balanceTransactionId: r.balance_transaction_id,
      channel: r.channel,
      storeId: r.store_id,
      gross: Number(r.gross),
      fee: Number(r.fee),
      net: Number(r.net),
      currency: r.currency,
      occurredAt: new Date(r.occurred_at as string).toISOString(),
      availableOn: new Date(r.available_on as string).toISOString(),
    }));
    const last = page[page.length - 1];
    return {
      data: page,
      nextCursor: rows.length > q.limit && last ? encodeCursor(last.occurredAt, String(last.entryId)) : null,
    };
  }
}
