import { Controller, HttpCode, NotFoundException, Post, UseGuards } from '@nestjs/common';
import { AdminTokenGuard } from '../replay/admin-token.guard';
import { EventsBackfill, type BackfillResult } from './events-backfill.service';

@Controller('admin')
@UseGuards(AdminTokenGuard)
export class BackfillController {
  constructor(private readonly backfill: EventsBackfill) {}

  /** Runs a backfill pass now (after an outage of the endpoint, say) and answers what it found and stored. */
  @Post('backfill')
  @HttpCode(200)
  async run(): Promise<BackfillResult> {
    if (!this.backfill.enabled) throw new NotFoundException('the events backfill is off (STRIPE_EVENTS_READ_KEY not set)');
    return this.backfill.runOnce();
  }
}
