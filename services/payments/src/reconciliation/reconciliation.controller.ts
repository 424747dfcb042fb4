import { Controller, Get, Query } from '@nestjs/common';
import { channel, currency } from '@omnipay/contracts';
import { DataSource } from 'typeorm';
import { z } from 'zod';
import { ApiError, parseInput } from '../common/http-errors';
import { utcDay as day } from './utc-day';

const query = z
  .object({
    day: day.optional(),
    currency: currency.optional(),
    channel: channel.optional(),
    storeId: z.string().min(1).max(128).optional(),
    cursor: z.string().max(300).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

const summaryQuery = z
  .object({
    day,
    channel: channel.optional(),
    storeId: z.string().min(1).max(128).optional(),
  })
  .strict();

interface Totals {
  entries: number;
  gross: number;
  fee: number;
  net: number;
}

const zero = (): Totals => ({ entries: 0, gross: 0, fee: 0, net: 0 });

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

/** Reconciliation entries for finance (through the gateway), oldest first, keyset-paged, and a day's totals. */
@Controller('reconciliation')
export class ReconciliationController {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * A UTC day's totals per currency, and per kind within it: what finance ties out against Stripe's balance
   * report without paging through every entry. Sums of integer minor units, computed by PostgreSQL.
   */
  @Get('summary')
  async summary(@Query() raw: unknown) {
    const q = parseInput(summaryQuery, raw);
    const params: unknown[] = [q.day];
    let filter = '';
    if (q.channel) filter += ` AND channel = $${params.push(q.channel)}`;
    if (q.storeId) filter += ` AND store_id = $${params.push(q.storeId)}`;
    const rows = await this.dataSource.query<
      { currency: string; kind: string; entries: string; gross: string; fee: string; net: string }[]
    >(
      `SELECT currency, kind, count(*) AS entries, sum(gross) AS gross, sum(fee) AS fee, sum(net) AS net
         FROM reconciliation_entries
        WHERE occurred_at >= ($1::date)::timestamp AT TIME ZONE 'UTC'
          AND occurred_at < ($1::date + 1)::timestamp AT TIME ZONE 'UTC'${filter}
        GROUP BY currency, kind ORDER BY currency, kind`,
      params,
    );
    const byCurrency = new Map<string, Totals & { byKind: Record<string, Totals> }>();
    for (const r of rows) {
      let c = byCurrency.get(r.currency);
      if (!c) byCurrency.set(r.currency, (c = { ...zero(), byKind: { charge: zero(), refund: zero(), dispute: zero() } }));
      const t = { entries: Number(r.entries), gross: Number(r.gross), fee: Number(r.fee), net: Number(r.net) };
      c.byKind[r.kind] = t; // charge, refund, dispute (always listed), and any kind a later version adds
      for (const k of ['entries', 'gross', 'fee', 'net'] as const) c[k] += t[k];
    }
    return {
      day: q.day,
      ...(q.channel ? { channel: q.channel } : {}),
      ...(q.storeId ? { storeId: q.storeId } : {}),
      currencies: [...byCurrency].map(([currency, totals]) => ({ currency, ...totals })),
    };
  }

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
