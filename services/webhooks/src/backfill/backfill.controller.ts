import { BadGatewayException, Controller, HttpCode, NotFoundException, Post, UseGuards } from '@nestjs/common';
import { redactSecrets } from '@omnipay/stripe';
import { AdminTokenGuard } from '@omnipay/platform';
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
    try {
      return await this.backfill.runOnce();
    } catch (error) {
      // Stripe's own status (401/403 for a wrong or under-permissioned key) would read as a bad ADMIN_TOKEN.
      const stripe = error as { type?: string; statusCode?: number; message?: string };
      if (stripe.type?.startsWith('Stripe'))
        throw new BadGatewayException({
          error: 'stripe_events_unavailable',
          message: `Stripe refused or failed the events listing (${stripe.statusCode ?? 'no answer'}): ${redactSecrets(stripe.message ?? '')}`,
        });
      throw error;
    }
  }
}
