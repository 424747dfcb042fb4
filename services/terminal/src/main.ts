import { bootstrapService } from '@omnipay/platform';
import { AppModule } from './app.module';
import { terminalConfigSchema } from './config';

void bootstrapService({
  service: 'terminal',
  internalApi: true,
  configSchema: terminalConfigSchema,
  module: (config, logger) => AppModule.register(config, logger),
});
