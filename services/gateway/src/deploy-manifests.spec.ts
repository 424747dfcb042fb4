import { describeDeployManifests } from '@omnipay/testing/src/deploy-manifests';
import { isOperationalPath } from './auth/auth.guard';
import { gatewayConfigSchema } from './config';
import { operationalRoutes, routes } from './openapi/spec';

// deploy/k8s and docker-compose.yml against the gateway's settings, ports and routes (docs/deployment.md).
describeDeployManifests({
  service: 'gateway',
  schema: gatewayConfigSchema,
  // A checkout makes at most three upstream calls one after another (decision 0020).
  drainMs: (c) => 3 * c.UPSTREAM_TIMEOUT_MS,
  // The API and the OpenAPI document; never the probes or /metrics.
  publicRoutes: [...routes, ...operationalRoutes]
    .map((r) => r.path)
    .filter((path) => !isOperationalPath(path)),
});
