import { STATEMENT_TIMEOUT_MS, describeDeployManifests } from '@omnipay/testing/src/deploy-manifests';
import { ordersConfigSchema } from './config';

// deploy/k8s and docker-compose.yml against the orders service's settings, ports and routes (docs/deployment.md).
describeDeployManifests({
  service: 'orders',
  schema: ordersConfigSchema,
  // A request, then the consumer chunk in hand, each within PostgreSQL's statement_timeout.
  drainMs: () => 2 * STATEMENT_TIMEOUT_MS,
});
