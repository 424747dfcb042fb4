import {
  STATEMENT_TIMEOUT_MS,
  describeDeployManifests,
  stripeCallMs,
} from '@omnipay/testing/src/deploy-manifests';
import { terminalConfigSchema } from './config';

// deploy/k8s and docker-compose.yml against the terminal service's settings, ports and routes (docs/deployment.md).
describeDeployManifests({
  service: 'terminal',
  schema: terminalConfigSchema,
  // A request's call to payments and to Stripe with its retries, then the consumer chunk in hand.
  drainMs: (c) => c.UPSTREAM_TIMEOUT_MS + stripeCallMs(c) + STATEMENT_TIMEOUT_MS,
});
