/**
 * CLI: node -r @swc-node/register tools/stripe-emulator/src/main.ts
 * Env: STRIPE_EMULATOR_PORT (12180), STRIPE_EMULATOR_HOST (127.0.0.1), STRIPE_EMULATOR_SECRET_KEY (sk_test_emulator),
 * STRIPE_EMULATOR_PUBLISHABLE_KEY (pk_test_emulator), STRIPE_EMULATOR_EVENTS_READ_KEY (rk_test_emulator_events_read: a
 * restricted key that may only read events), STRIPE_EMULATOR_WEBHOOKS ("url|whsec_…,url2|whsec_…"),
 * STRIPE_EMULATOR_WEBHOOK_MAX_RETRY_MS (how long deliveries are retried, default 60000).
 * Logs one JSON line per request (method, path, status, ms) — never keys, client secrets or webhook secrets.
 */
import { startEmulator, PreconfiguredEndpoint } from './index';

export function parseWebhooksEnv(value: string | undefined): PreconfiguredEndpoint[] {
  if (!value?.trim()) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [url, secret] = entry.split('|');
      if (!url) throw new Error(`STRIPE_EMULATOR_WEBHOOKS: bad entry (want url|whsec_secret)`);
      if (secret !== undefined && !secret.startsWith('whsec_')) throw new Error(`STRIPE_EMULATOR_WEBHOOKS: secret for ${url} must start with whsec_`);
      return { url, secret };
    });
}

async function main(): Promise<void> {
  const env = process.env;
  const port = Number(env.STRIPE_EMULATOR_PORT ?? 12180);
  const maxRetry = env.STRIPE_EMULATOR_WEBHOOK_MAX_RETRY_MS ? Number(env.STRIPE_EMULATOR_WEBHOOK_MAX_RETRY_MS) : undefined;
  const handle = await startEmulator({
    port,
    host: env.STRIPE_EMULATOR_HOST ?? '127.0.0.1',
    secretKey: env.STRIPE_EMULATOR_SECRET_KEY || undefined,
    publishableKey: env.STRIPE_EMULATOR_PUBLISHABLE_KEY || undefined,
    eventsReadKey: env.STRIPE_EMULATOR_EVENTS_READ_KEY || undefined,
    webhooks: parseWebhooksEnv(env.STRIPE_EMULATOR_WEBHOOKS),
    webhookRetry: maxRetry !== undefined ? { maxDurationMs: maxRetry } : undefined,
    log: true,
  });
  process.stdout.write(
    `${JSON.stringify({ msg: 'stripe-emulator listening', url: handle.url, api_version: handle.apiVersion, webhook_endpoints: parseWebhooksEnv(env.STRIPE_EMULATOR_WEBHOOKS).map((w) => w.url) })}\n`,
  );
  const stop = () => {
    void handle.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`stripe-emulator: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
