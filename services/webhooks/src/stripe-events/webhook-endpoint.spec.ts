import { isWebhookPath } from './webhook-endpoint';

describe('isWebhookPath', () => {
  it('matches the path forms Express would route to the webhook, and nothing else', () => {
    for (const url of ['/stripe/webhooks', '/stripe/webhooks/', '/Stripe/WEBHOOKS', '/stripe/webhooks?x=1'])
      expect(isWebhookPath(url)).toBe(true);
    for (const url of [
      undefined,
      '/',
      '/stripe/webhook',
      '/stripe/webhooks/x',
      '/stripe/webhooks//',
      '/stripe/webhooksx',
    ])
      expect(isWebhookPath(url)).toBe(false);
  });
});
