import { bootstrapService } from '@omnipay/platform';
import { AppModule } from './app.module';
import { gatewayConfigSchema } from './config';

void bootstrapService({
  service: 'gateway',
  edge: true,
  configSchema: gatewayConfigSchema,
  module: (config, logger) => AppModule.register(config, logger),
  configureApp: (app, config) => {
    // Clients send small JSON; anything bigger is refused with 413 before it is parsed.
    app.useBodyParser('json', { limit: config.BODY_LIMIT });
    app.set('trust proxy', 'loopback');
  },
});
