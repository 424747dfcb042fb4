import { Module, type DynamicModule } from '@nestjs/common';
import type { JsonLogger } from '@omnipay/observability';
import { olderThan } from '@omnipay/persistence';
import { PlatformModule } from '@omnipay/platform';
import { StripeModule } from '@omnipay/stripe';
import { UpstreamClient } from './common/upstream.client';
import type { TerminalConfig } from './config';
import { Terminal1730000000000 } from './migrations/1730000000000-terminal';
import { RetentionIndex1730000000001 } from './migrations/1730000000001-retention-index';
import { ReaderActionChecks1730000000002 } from './migrations/1730000000002-reader-action-checks';
import { ReaderActionsRepository } from './reader-payments/reader-actions.repository';
import { ReaderActionsWorker } from './reader-payments/reader-actions.worker';
import { ReaderEventsConsumer } from './reader-payments/reader-events.consumer';
import { ReaderEventsService } from './reader-payments/reader-events.service';
import { ReaderPaymentsController } from './reader-payments/reader-payments.controller';
import { ReaderPaymentsService } from './reader-payments/reader-payments.service';
import { ReadersController } from './readers/readers.controller';
import { ReadersService } from './readers/readers.service';
import { StoresController } from './stores/stores.controller';
import { StoresService } from './stores/stores.service';

@Module({})
export class AppModule {
  static register(config: TerminalConfig, logger: JsonLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'terminal',
          internalApi: true,
          config,
          logger,
          entities: [],
          migrations: [Terminal1730000000000, RetentionIndex1730000000001, ReaderActionChecks1730000000002],
          retention: [olderThan('applied_stripe_events', 'applied_at', config.STRIPE_EVENT_DEDUP_DAYS * 24 * 3_600_000)],
        }),
        StripeModule.forRoot(config),
      ],
      controllers: [StoresController, ReadersController, ReaderPaymentsController, ReaderEventsConsumer],
      providers: [
        UpstreamClient,
        StoresService,
        ReadersService,
        ReaderActionsRepository,
        ReaderPaymentsService,
        ReaderEventsService,
        ReaderActionsWorker,
      ],
    };
  }
}
