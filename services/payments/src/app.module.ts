import { Module, type DynamicModule } from '@nestjs/common';
import type { JsonLogger } from '@omnipay/observability';
import { olderThan } from '@omnipay/persistence';
import { PlatformModule } from '@omnipay/platform';
import { StripeModule } from '@omnipay/stripe';
import { IdempotencyService } from './common/idempotency.service';
import type { PaymentsConfig } from './config';
import { CustomersController } from './customers/customers.controller';
import { CustomersService } from './customers/customers.service';
import { DuplicatePaymentRefunds } from './duplicate-payments/duplicate-refunds.service';
import { JanitorService } from './janitor/janitor.service';
import { paymentsMigrations } from './migrations';
import { OrderEventsConsumer } from './order-cancellations/order-events.consumer';
import { PaymentCancellations } from './order-cancellations/payment-cancellations.service';
import { PaymentStateService } from './payments/payment-state.service';
import { PaymentsController } from './payments/payments.controller';
import { PaymentsRepository } from './payments/payments.repository';
import { PaymentsService } from './payments/payments.service';
import { PayoutsController } from './payouts/payouts.controller';
import { PayoutsRepository } from './payouts/payouts.repository';
import { PayoutsService } from './payouts/payouts.service';
import { AuditController } from './reconciliation/audit.controller';
import { AuditRepository } from './reconciliation/audit.repository';
import { AuditService } from './reconciliation/audit.service';
import { ReconciliationController } from './reconciliation/reconciliation.controller';
import { ReconciliationWorker } from './reconciliation/reconciliation.worker';
import { StripeEventsConsumer } from './stripe-events/stripe-events.consumer';

@Module({})
export class AppModule {
  static register(config: PaymentsConfig, logger: JsonLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'payments',
          internalApi: true,
          config,
          logger,
          entities: [],
          migrations: paymentsMigrations,
          retention: [
            olderThan('applied_stripe_events', 'applied_at', config.STRIPE_EVENT_DEDUP_DAYS * 24 * 3_600_000),
            olderThan('idempotent_requests', 'created_at', config.IDEMPOTENT_REQUESTS_RETENTION_HOURS * 3_600_000),
          ],
        }),
        StripeModule.forRoot(config),
      ],
      controllers: [
        PaymentsController,
        CustomersController,
        ReconciliationController,
        AuditController,
        PayoutsController,
        StripeEventsConsumer,
        OrderEventsConsumer,
      ],
      providers: [
        PaymentsRepository,
        PaymentStateService,
        PaymentsService,
        CustomersService,
        IdempotencyService,
        ReconciliationWorker,
        AuditRepository,
        AuditService,
        JanitorService,
        PaymentCancellations,
        DuplicatePaymentRefunds,
        PayoutsRepository,
        PayoutsService,
      ],
    };
  }
}
