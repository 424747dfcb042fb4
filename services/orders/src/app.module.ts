import { Module, type DynamicModule } from '@nestjs/common';
import type { JsonLogger } from '@omnipay/observability';
import { PlatformModule } from '@omnipay/platform';
import type { OrdersConfig } from './config';

@Module({})
export class AppModule {
  static register(config: OrdersConfig, logger: JsonLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [PlatformModule.forRoot({ service: 'orders', config, logger, entities: [], migrations: [] })],
    };
  }
}
