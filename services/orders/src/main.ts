import { bootstrapService } from '@omnipay/platform';
import { AppModule } from './app.module';
import { ordersConfigSchema } from './config';

void bootstrapService({
  service: 'orders',
  internalApi: true,
  configSchema: ordersConfigSchema,
  module: (config, logger) => AppModule.register(config, logger),
});
