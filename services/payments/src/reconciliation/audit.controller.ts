import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { z } from 'zod';
import { parseInput } from '../common/http-errors';
import { AuditService } from './audit.service';
import { utcDay } from './utc-day';

const requestBody = z
  .object({
    day: utcDay,
    /** who asked (the gateway passes its caller); recorded with the audit */
    requestedBy: z.string().min(1).max(200).default('api'),
  })
  .strict();

/** A day's audit of the reconciliation entries against Stripe's balance transactions (decision 0016). */
@Controller('reconciliation/audits')
export class AuditController {
  constructor(private readonly audits: AuditService) {}

  /** Asks for an audit (or another run of a finished one); 202: it runs in the background, read it by day. */
  @Post()
  @HttpCode(202)
  request(@Body() raw: unknown) {
    const b = parseInput(requestBody, raw);
    return this.audits.request(b.day, b.requestedBy);
  }

  @Get(':day')
  get(@Param('day') day: string) {
    return this.audits.get(parseInput(utcDay, day));
  }
}
