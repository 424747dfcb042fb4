import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import type { Claims } from '@omnipay/auth';
import { CurrentUser, Roles } from '../auth/auth.decorators';
import { parseInput } from '../common/validation';
import { UpstreamClient } from '../upstream/upstream.client';
import { auditBody, entriesQuery as query, summaryQuery, utcDay } from './dto/audit.dto';
import { payoutId, payoutLinesQuery, payoutsQuery } from './dto/payouts.dto';

/** Finance reads what payments emitted on finance.reconciliation.v1, paged; nothing else is open to finance. */
@Roles('finance', 'admin')
@Controller('v1/finance')
export class ReconciliationController {
  constructor(private readonly upstream: UpstreamClient) {}

  @Get('reconciliation')
  list(@Query() raw: unknown) {
    return this.upstream.expectOk('payments', 'GET', `/reconciliation${queryString(parseInput(query, raw))}`);
  }

  /** A UTC day's totals (gross, fee, net, entries) per currency and per kind. */
  @Get('reconciliation/summary')
  summary(@Query() raw: unknown) {
    return this.upstream.expectOk('payments', 'GET', `/reconciliation/summary${queryString(parseInput(summaryQuery, raw))}`);
  }

  /**
   * Audits a UTC day's entries against the balance transactions Stripe lists for it (decision 0016); runs in the
   * background (202), read by day. Yesterday's is run every day without being asked.
   */
  @Post('reconciliation/audits')
  @HttpCode(202)
  requestAudit(@Body() raw: unknown, @CurrentUser() user: Claims) {
    const b = parseInput(auditBody, raw);
    return this.upstream.expectOk('payments', 'POST', '/reconciliation/audits', {
      day: b.day,
      requestedBy: `${user.role}:${user.sub}`,
    });
  }

  @Get('reconciliation/audits/:day')
  audit(@Param('day') day: string) {
    return this.upstream.expectOk('payments', 'GET', `/reconciliation/audits/${encodeURIComponent(parseInput(utcDay, day, 'day'))}`);
  }

  /** Stripe payouts matched with the balance transactions they paid out (decision 0019), newest arrival first. */
  @Get('payouts')
  payouts(@Query() raw: unknown) {
    return this.upstream.expectOk('payments', 'GET', `/reconciliation/payouts${queryString(parseInput(payoutsQuery, raw))}`);
  }

  @Get('payouts/:payoutId')
  payout(@Param('payoutId') id: string) {
    return this.upstream.expectOk('payments', 'GET', `/reconciliation/payouts/${encodeURIComponent(parseInput(payoutId, id, 'payoutId'))}`);
  }

  @Get('payouts/:payoutId/lines')
  payoutLines(@Param('payoutId') id: string, @Query() raw: unknown) {
    const path = `/reconciliation/payouts/${encodeURIComponent(parseInput(payoutId, id, 'payoutId'))}/lines`;
    return this.upstream.expectOk('payments', 'GET', `${path}${queryString(parseInput(payoutLinesQuery, raw))}`);
  }
}

/** The parsed query (strings and numbers only) passed on to payments. */
function queryString(q: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
  return params.size ? `?${params.toString()}` : '';
}
