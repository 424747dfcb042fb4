import {
  STATEMENT_TIMEOUT_MS,
  containerEnv,
  describeDeployManifests,
  find,
  loadDevOverlay,
  type Deployment,
  type Service,
} from '@omnipay/testing/src/deploy-manifests';
import { webhooksConfigSchema } from './config';
import { STRIPE_WEBHOOK_PATH } from './stripe-events/webhook-endpoint';

// deploy/k8s and docker-compose.yml against the webhooks service's settings, ports and routes (docs/deployment.md).
describeDeployManifests({
  service: 'webhooks',
  schema: webhooksConfigSchema,
  // A batch of deliveries in flight, then the backfill's page in hand, each within PostgreSQL's statement_timeout.
  drainMs: () => 2 * STATEMENT_TIMEOUT_MS,
  // With real Stripe, the endpoint must be reachable from the internet; nothing else of this service.
  publicRoutes: [STRIPE_WEBHOOK_PATH],
});

describe('webhooks: the Stripe emulator of deploy/k8s/overlays/dev', () => {
  it('delivers to the webhook endpoint, signed with one of its secrets', () => {
    const dev = loadDevOverlay();
    const container = (name: string) =>
      find<Deployment>(dev.objects, 'Deployment', name)!.spec.template.spec.containers[0];
    const emulator = containerEnv(dev, container('stripe-emulator'));
    expect(emulator.problems).toEqual([]);
    const config = webhooksConfigSchema.parse(containerEnv(dev, container('webhooks')).env);
    const port = find<Service>(dev.objects, 'Service', 'webhooks')!.spec.ports[0].port;
    const endpoints = emulator.env.STRIPE_EMULATOR_WEBHOOKS.split(',').map((entry) => entry.split('|'));
    expect(endpoints).toHaveLength(1);
    const [url, secret] = endpoints[0];
    expect(url).toBe(`http://webhooks:${port}${STRIPE_WEBHOOK_PATH}`);
    expect(config.STRIPE_WEBHOOK_SECRETS).toContain(secret);
  });
});
