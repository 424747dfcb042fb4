import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ConfigValidationError } from '@omnipay/config';
import type { JsonLogger } from '@omnipay/observability';
import { PlatformModule } from '@omnipay/platform';
import { AuthGuard, RolesGuard } from './auth/auth.guard';
import { CheckoutController } from './checkout/checkout.controller';
import { CheckoutService } from './checkout/checkout.service';
import { IdempotencyService } from './common/idempotency.service';
import type { GatewayConfig } from './config';
import { ReconciliationController } from './finance/reconciliation.controller';
import { MeController } from './me/me.controller';
import { OpenApiController } from './openapi/openapi.controller';
import { OrdersController } from './orders/orders.controller';
import { OrdersService } from './orders/orders.service';
import { PosController, StoresAdminController } from './pos/pos.controller';
import { PosService } from './pos/pos.service';
import { RateLimitGuard } from './rate-limit/rate-limit.guard';
import { RateLimiter } from './rate-limit/rate-limiter';
import { UpstreamClient } from './upstream/upstream.client';

@Module({})
export class AppModule {
  static register(config: GatewayConfig, logger: JsonLogger): DynamicModule {
    // Its port is the public one: /metrics (routes, rates, internals) must not be open to the internet.
    if (config.NODE_ENV === 'production' && !config.METRICS_TOKEN)
      throw new ConfigValidationError(['METRICS_TOKEN: is required with NODE_ENV=production on the gateway, whose port is public']);
    return {
      module: AppModule,
      imports: [PlatformModule.forEdge({ service: 'gateway', config, logger })],
      controllers: [OpenApiController, CheckoutController, OrdersController, MeController, ReconciliationController, PosController, StoresAdminController],
      providers: [
        // Order matters: authenticate first, so the rate limit counts per user rather than per IP; roles after it,
        // so refused calls count too.
        RateLimiter,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_GUARD, useClass: RolesGuard },
        UpstreamClient,
        IdempotencyService,
        CheckoutService,
        OrdersService,
        PosService,
      ],
    };
  }
}
