import { bootstrapService } from '@omnipay/platform';
import { AppModule } from './app.module';
import { webhooksConfigSchema } from './config';

void bootstrapService({
  service: 'webhooks',
  configSchema: webhooksConfigSchema,
  module: (config, logger) => AppModule.register(config, logger),
});
