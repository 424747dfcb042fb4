import { bootstrapService } from '@omnipay/platform';
import { AppModule } from './app.module';
import { gatewayConfigSchema } from './config';

void bootstrapService({ service: 'gateway', configSchema: gatewayConfigSchema, module: AppModule.register });
