import { Controller, Get, Query } from '@nestjs/common';
import { channel, currency } from '@omnipay/contracts';
import { z } from 'zod';
import { Roles } from '../auth/auth.decorators';
import { parseInput } from '../common/validation';
import { UpstreamClient } from '../upstream/upstream.client';

const query = z
  .object({
    day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD (UTC)').optional(),
    currency: currency.optional(),
    channel: channel.optional(),
    storeId: z.string().min(1).max(64).optional(),
    cursor: z.string().max(300).optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
  })
  .strict();

const summaryQuery = z
  .object({
    day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD (UTC)'),
    channel: channel.optional(),
    storeId: z.string().min(1).max(64).optional(),
  })
  .strict();

/** Finance reads what payments emitted on finance.reconciliation.v1, paged; nothing else is open to finance. */
@Roles('finance', 'admin')
@Controller('v1/finance')
export class ReconciliationController {
  constructor(private readonly upstream: UpstreamClient) {}

  @Get('reconciliation')
  list(@Query() raw: unknown) {
    const q = parseInput(query, raw);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
    return this.upstream.expectOk('payments', 'GET', `/reconciliation${params.size ? `?${params.toString()}` : ''}`);
  }

  /** A UTC day's totals (gross, fee, net, entries) per currency and per kind. */
  @Get('reconciliation/summary')
  summary(@Query() raw: unknown) {
    const q = parseInput(summaryQuery, raw);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
    return this.upstream.expectOk('payments', 'GET', `/reconciliation/summary?${params.toString()}`);
  }
}
