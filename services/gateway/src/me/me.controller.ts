import { Body, Controller, Get, Headers, HttpCode, Post } from '@nestjs/common';
import type { Claims } from '@omnipay/auth';
import { CurrentUser, Roles } from '../auth/auth.decorators';
import { checkIdempotencyKey } from '../common/idempotency.service';
import { parseInput } from '../common/validation';
import { UpstreamClient } from '../upstream/upstream.client';
import { ephemeralKeyBody } from './dto/me.dto';
import { callerRef, downstreamKey } from '../common/caller-ref';

/**
 * The app channel's customer endpoints (PaymentSheet): always for the signed-in customer, never for an id
 * from the request, so one customer can never mint keys for another.
 */
@Roles('customer')
@Controller('v1/me')
export class MeController {
  constructor(private readonly upstream: UpstreamClient) {}

  private path(user: Claims, rest: string): string {
    return `/customers/${encodeURIComponent(user.sub)}/${rest}`;
  }

  @Post('customer')
  @HttpCode(200)
  customer(@CurrentUser() user: Claims) {
    return this.upstream.expectOk('payments', 'POST', this.path(user, 'stripe-customer'), {});
  }

  @Post('ephemeral-keys')
  ephemeralKey(@CurrentUser() user: Claims, @Body() raw: unknown) {
    return this.upstream.expectOk('payments', 'POST', this.path(user, 'ephemeral-keys'), parseInput(ephemeralKeyBody, raw));
  }

  @Post('customer-sessions')
  customerSession(@CurrentUser() user: Claims) {
    return this.upstream.expectOk('payments', 'POST', this.path(user, 'customer-sessions'), {});
  }

  @Post('setup-intents')
  setupIntent(@CurrentUser() user: Claims, @Headers('idempotency-key') key: string | undefined) {
    if (key !== undefined) checkIdempotencyKey(key);
    return this.upstream.expectOk('payments', 'POST', this.path(user, 'setup-intents'), {}, key ? { 'idempotency-key': downstreamKey(`me.${callerRef(user.sub)}.${key}`) } : {});
  }

  @Get('payment-methods')
  savedCards(@CurrentUser() user: Claims) {
    return this.upstream.expectOk('payments', 'GET', this.path(user, 'payment-methods'));
  }

  @Get('loyalty')
  loyalty(@CurrentUser() user: Claims) {
    return this.upstream.expectOk('orders', 'GET', `/loyalty/customers/${encodeURIComponent(user.sub)}`);
  }
}
