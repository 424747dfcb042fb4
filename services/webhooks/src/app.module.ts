import { Module, type DynamicModule } from '@nestjs/common';
import type { JsonLogger } from '@omnipay/observability';
import { olderThan } from '@omnipay/persistence';
import { AdminTokenGuard, PlatformModule } from '@omnipay/platform';
import { BackfillController } from './backfill/backfill.controller';
import { EventsBackfill } from './backfill/events-backfill.service';
import type { WebhooksConfig } from './config';
import { ReplayController } from './replay/replay.controller';
import { ReplayService } from './replay/replay.service';
import { StripeEvents1710000000000 } from './stripe-events/migrations/1710000000000-stripe-events';
import { StripeEventEntity } from './stripe-events/stripe-event.entity';
import { StripeEventStore } from './stripe-events/stripe-event-store';
import { WebhookEndpoint } from './stripe-events/webhook-endpoint';
import { WebhookIngestService } from './stripe-events/webhook-ingest.service';

@Module({})
export class AppModule {
  static register(config: WebhooksConfig, logger: JsonLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'webhooks',
          config,
          logger,
          entities: [StripeEventEntity],
          migrations: [StripeEvents1710000000000],
          retention: [olderThan('stripe_events', 'received_at', config.STRIPE_EVENTS_RETENTION_DAYS * 24 * 3_600_000)],
        }),
      ],
      controllers: [ReplayController, BackfillController],
      providers: [WebhookEndpoint, StripeEventStore, WebhookIngestService, ReplayService, EventsBackfill, AdminTokenGuard],
    };
  }
}
