import { Module, type DynamicModule } from '@nestjs/common';
import type { JsonLogger } from '@omnipay/observability';
import { PlatformModule } from '@omnipay/platform';
import type { PaymentsConfig } from './config';

@Module({})
export class AppModule {
  static register(config: PaymentsConfig, logger: JsonLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [PlatformModule.forRoot({ service: 'payments', config, logger, entities: [], migrations: [] })],
    };
  }
}
