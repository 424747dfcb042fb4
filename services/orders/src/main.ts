import { bootstrapService } from '@omnipay/platform';
import { AppModule } from './app.module';
import { ordersConfigSchema } from './config';

void bootstrapService({
  service: 'orders',
  configSchema: ordersConfigSchema,
  module: (config, logger) => AppModule.register(config, logger),
});
