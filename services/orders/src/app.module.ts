import { Module, type DynamicModule } from '@nestjs/common';
import type { JsonLogger } from '@omnipay/observability';
import { PlatformModule } from '@omnipay/platform';
import { CatalogController } from './catalog/catalog.controller';
import { Catalog1710000000100 } from './catalog/catalog.migration';
import { CatalogService } from './catalog/catalog.service';
import type { OrdersConfig } from './config';
import { InventoryConsumer } from './inventory/inventory.consumer';
import { InventoryController } from './inventory/inventory.controller';
import {
  Inventory1710000000300,
  InventoryFlaggedReleased1710000001100,
  InventoryPendingReturns1710000000500,
} from './inventory/inventory.migration';
import { InventoryService } from './inventory/inventory.service';
import { LoyaltyConsumer } from './loyalty/loyalty.consumer';
import { LoyaltyController } from './loyalty/loyalty.controller';
import {
  Loyalty1710000000400,
  LoyaltyDisputeOutcome1710000000700,
  LoyaltyAppendOnly1710000001000,
  LoyaltyRefundSeq1710000000900,
} from './loyalty/loyalty.migration';
import { LoyaltyService } from './loyalty/loyalty.service';
import { OrderExpirySweeper } from './orders/order-expiry.sweeper';
import { OrdersConsumer } from './orders/orders.consumer';
import { OrdersController } from './orders/orders.controller';
import {
  Orders1710000000200,
  OrdersDisputeStatus1710000000600,
  OrdersRefundSeq1710000000800,
} from './orders/orders.migration';
import { OrdersService } from './orders/orders.service';

/**
 * One deployable, four modules with their own tables: catalog, orders, inventory and loyalty. Orders, inventory
 * and loyalty consume payments.events.v1 in their own consumer groups, so each can later move to its own process.
 * They meet synchronously only in the placement and cancel transactions (reserve/release stock, register the
 * order with loyalty), which is what makes "order placed ⇔ stock reserved" atomic.
 */
@Module({})
export class AppModule {
  static register(config: OrdersConfig, logger: JsonLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          service: 'orders',
          internalApi: true,
          config,
          logger,
          entities: [],
          migrations: [
            Catalog1710000000100,
            Orders1710000000200,
            Inventory1710000000300,
            Loyalty1710000000400,
            InventoryPendingReturns1710000000500,
            OrdersDisputeStatus1710000000600,
            LoyaltyDisputeOutcome1710000000700,
            OrdersRefundSeq1710000000800,
            LoyaltyRefundSeq1710000000900,
            LoyaltyAppendOnly1710000001000,
            InventoryFlaggedReleased1710000001100,
          ],
        }),
      ],
      controllers: [
        CatalogController,
        OrdersController,
        InventoryController,
        LoyaltyController,
        OrdersConsumer,
        InventoryConsumer,
        LoyaltyConsumer,
      ],
      providers: [CatalogService, OrdersService, InventoryService, LoyaltyService, OrderExpirySweeper],
    };
  }
}
