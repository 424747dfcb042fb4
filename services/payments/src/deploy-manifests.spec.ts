import {
  STATEMENT_TIMEOUT_MS,
  describeDeployManifests,
  stripeCallMs,
} from '@omnipay/testing/src/deploy-manifests';
import { paymentsConfigSchema } from './config';

// deploy/k8s and docker-compose.yml against the payments service's settings, ports and routes (docs/deployment.md).
describeDeployManifests({
  service: 'payments',
  schema: paymentsConfigSchema,
  // A request's Stripe call with its retries, then the consumer chunk in hand.
  drainMs: (c) => stripeCallMs(c) + STATEMENT_TIMEOUT_MS,
});
