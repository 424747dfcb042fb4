import { Module, type DynamicModule } from '@nestjs/common';
import type { JsonLogger } from '@omnipay/observability';
import { PlatformModule } from '@omnipay/platform';
import type { GatewayConfig } from './config';

@Module({})
export class AppModule {
  static register(config: GatewayConfig, logger: JsonLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [PlatformModule.forRoot({ service: 'gateway', config, logger, entities: [], migrations: [] })],
    };
  }
}
