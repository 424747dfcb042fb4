import { JsonLogger } from '@omnipay/observability';
import { bootstrapService } from '@omnipay/platform';
import { AppModule } from './app.module';
import { methodNotAllowed } from './common/method-not-allowed';
import { publicError } from './common/public-error';
import { gatewayConfigSchema } from './config';
import { operationalRoutes, routes } from './openapi/spec';

void bootstrapService({
  service: 'gateway',
  internalApi: true,
  edge: true,
  configSchema: gatewayConfigSchema,
  module: (config, logger) => AppModule.register(config, logger),
  errorBody: publicError,
  configureApp: (app, config) => {
    // Clients send small JSON; anything bigger is refused with 413 before it is parsed.
    app.useBodyParser('json', { limit: config.BODY_LIMIT });
    app.set('trust proxy', config.TRUST_PROXY);
    app.use(methodNotAllowed([...routes, ...operationalRoutes], app.get(JsonLogger)));
  },
});
