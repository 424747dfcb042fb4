import { BadRequestException, Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { JsonLogger } from '@omnipay/observability';
import { replayRequestSchema } from './dto/replay-request.dto';
import { AdminTokenGuard } from '@omnipay/platform';
import { ReplayService } from './replay.service';

@Controller('admin')
@UseGuards(AdminTokenGuard)
export class ReplayController {
  constructor(
    private readonly replays: ReplayService,
    private readonly logger: JsonLogger,
  ) {}

  /** Re-publishes stored Stripe events (by ids, type, received-time range) with their original envelope ids. */
  @Post('replay')
  @HttpCode(202)
  async replay(@Body() body: unknown): Promise<{ queued: number }> {
    const parsed = replayRequestSchema.safeParse(body ?? {});
    if (!parsed.success) {
      throw new BadRequestException({
        error: 'invalid_request',
        issues: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      });
    }
    const queued = await this.replays.replay(parsed.data);
    this.logger.pino.info(
      {
        criteria: {
          eventIds: parsed.data.eventIds?.length,
          type: parsed.data.type,
          from: parsed.data.from,
          to: parsed.data.to,
        },
        queued,
      },
      'stripe events replay queued',
    );
    return { queued };
  }
}
