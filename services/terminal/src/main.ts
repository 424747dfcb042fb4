import { bootstrapService } from '@omnipay/platform';
import { AppModule } from './app.module';
import { terminalConfigSchema } from './config';

void bootstrapService({
  service: 'terminal',
  configSchema: terminalConfigSchema,
  module: (config, logger) => AppModule.register(config, logger),
});
