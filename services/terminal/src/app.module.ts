import { Module, type DynamicModule } from '@nestjs/common';
import type { JsonLogger } from '@omnipay/observability';
import { PlatformModule } from '@omnipay/platform';
import type { TerminalConfig } from './config';

@Module({})
export class AppModule {
  static register(config: TerminalConfig, logger: JsonLogger): DynamicModule {
    return {
      module: AppModule,
      imports: [PlatformModule.forRoot({ service: 'terminal', config, logger, entities: [], migrations: [] })],
    };
  }
}
