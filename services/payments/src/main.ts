import { bootstrapService } from '@omnipay/platform';
import { AppModule } from './app.module';
import { paymentsConfigSchema } from './config';

void bootstrapService({
  service: 'payments',
  internalApi: true,
  configSchema: paymentsConfigSchema,
  module: (config, logger) => AppModule.register(config, logger),
});
