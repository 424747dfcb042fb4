import Stripe from 'stripe';
import type { StripeConfig } from './config';

export type StripeClientSettings = Pick<
  StripeConfig,
  'STRIPE_SECRET_KEY' | 'STRIPE_API_BASE' | 'STRIPE_TIMEOUT_MS' | 'STRIPE_MAX_NETWORK_RETRIES'
>;

/** SDK host/port/protocol options from `STRIPE_API_BASE`; an unset base leaves the SDK's own (api.stripe.com). */
export function apiBaseOptions(
  apiBase: string | undefined,
): Pick<Stripe.StripeConfig, 'host' | 'port' | 'protocol'> {
  if (!apiBase) return {};
  const url = new URL(apiBase);
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  const port = url.port ? Number(url.port) : protocol === 'http' ? 80 : 443;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port, protocol };
}

/**
 * The one way services build a Stripe client; the key stays inside the SDK instance (never logged). A live key is
 * refused with a plain-http base (an emulator or proxy base is for test keys): it would cross the network in clear.
 */
export function createStripeClient(settings: StripeClientSettings): Stripe {
  if (/^(sk|rk)_live_/.test(settings.STRIPE_SECRET_KEY) && settings.STRIPE_API_BASE && !settings.STRIPE_API_BASE.startsWith('https://'))
    throw new Error('Invalid configuration: STRIPE_API_BASE must be an https:// URL (or unset) with a live key, which would otherwise travel in clear');
  return new Stripe(settings.STRIPE_SECRET_KEY, {
    ...apiBaseOptions(settings.STRIPE_API_BASE),
    timeout: settings.STRIPE_TIMEOUT_MS,
    maxNetworkRetries: settings.STRIPE_MAX_NETWORK_RETRIES,
    telemetry: false,
    appInfo: { name: 'omnipay' },
  });
}
