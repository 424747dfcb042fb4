import { Body, Controller, Get, Headers, Post, Res } from '@nestjs/common';
import type { Claims } from '@omnipay/auth';
import type { Response } from 'express';
import { CurrentUser, Public, Roles } from '../auth/auth.decorators';
import { IdempotencyService } from '../common/idempotency.service';
import { parseInput, rejectClientPrices } from '../common/validation';
import { CheckoutService } from './checkout.service';
import { checkoutBody } from './dto/checkout.dto';
import { callerRef } from '../common/caller-ref';

@Controller('v1')
export class CheckoutController {
  constructor(
    private readonly checkout: CheckoutService,
    private readonly idempotency: IdempotencyService,
  ) {}

  /** What a client SDK needs to talk to Stripe directly: the publishable key, never a secret. */
  @Public()
  @Get('config')
  async config(): Promise<{ publishableKey: string }> {
    return { publishableKey: await this.checkout.publishableKey() };
  }

  @Roles('customer')
  @Post('checkout')
  async create(
    @CurrentUser() user: Claims,
    @Body() raw: unknown,
    @Headers('idempotency-key') key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ) {
    rejectClientPrices(raw);
    const body = parseInput(checkoutBody, raw);
    const result = await this.idempotency.run(`checkout:${callerRef(user.sub)}`, key, body, async () => ({
      status: 201,
      body: await this.checkout.checkout(user, body, key),
    }));
    res.status(result.status);
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    return result.body;
  }
}
