/**
 * Stateful Stripe emulator. `startEmulator()` runs it inside a process (port 0 = random port);
 * `src/main.ts` is the standalone CLI. See docs/stripe-emulator.md.
 */
import type { AddressInfo } from 'node:net';
import type Stripe from 'stripe';
import { API_VERSION, DEFAULT_CONFIG, Emulator, EmulatorConfig, PreconfiguredEndpoint } from './app';
import { createServer, LogFn } from './http/server';
import { DEFAULT_RETRY, Delivery, RetryPolicy } from './webhooks/dispatcher';
import type { ApiFault, ApiFaultInput, WebhookFault, WebhookFaultInput } from './faults';
import { resetEmulator, validateApiFault, validatePayoutRun, validateWebhookFault } from './admin/routes';
import { createWebhookEndpoint } from './resources/webhook-endpoints';
import { completeThreeDS } from './resources/payment-intents';
import { completeSetupThreeDS } from './resources/setup-intents';
import * as customers from './resources/customers';
import * as paymentMethods from './resources/payment-methods';
import * as paymentIntents from './resources/payment-intents';
import * as setupIntents from './resources/setup-intents';
import * as charges from './resources/charges';
import * as disputes from './resources/disputes';
import * as refunds from './resources/refunds';
import * as payouts from './resources/payouts';
import * as balance from './resources/balance';
import * as events from './resources/events';
import * as ephemeralKeys from './resources/ephemeral-keys';
import * as webhookEndpoints from './resources/webhook-endpoints';
import * as terminal from './resources/terminal';

export { API_VERSION, DEFAULT_RETRY };
export type { RetryPolicy, Delivery, ApiFault, ApiFaultInput, WebhookFault, WebhookFaultInput, PreconfiguredEndpoint };
export { PAYOUT_DESTINATION } from './resources/payouts';
export type { PayoutRunOptions } from './resources/payouts';
export { TEST_TOKENS, TIMEOUT_NUMBER, stripeFee } from './resources/cards';
export { signatureHeader } from './webhooks/signature';
export { REQUEST_SHAPES } from './contract/request-shapes';
export type { RequestShape } from './contract/request-shapes';

export interface EmulatorOptions {
  /** 0 (default) = a free random port */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** default sk_test_emulator */
  secretKey?: string;
  /** default rk_test_emulator_events_read: a restricted key that may only read events */
  eventsReadKey?: string;
  /** default pk_test_emulator */
  publishableKey?: string;
  /** webhook endpoints that exist from the start (and again after every reset) */
  webhooks?: PreconfiguredEndpoint[];
  /** webhook retry schedule (defaults: 250 ms doubling, ≤10 s apart, give up after 60 s, 5 s attempt timeout) */
  webhookRetry?: Partial<RetryPolicy>;
  /** delay before automatic_async charges get their balance transaction (default 20 ms) */
  asyncCaptureDelayMs?: number;
  /** one call per request: {time, request_id, method, path, status, ms}; default: no logging */
  log?: LogFn | boolean;
}

export interface EmulatorHandle {
  url: string;
  port: number;
  host: string;
  secretKey: string;
  publishableKey: string;
  /** the restricted key that may only read events (a backfill job's key) */
  eventsReadKey: string;
  apiVersion: string;
  /** the Stripe SDK options that point at this emulator */
  stripeConfig: { host: string; port: number; protocol: 'http' };
  close(): Promise<void>;
  /** clear all state and faults; preconfigured webhook endpoints are recreated with the same secrets */
  reset(): void;
  /** resolves when no webhook delivery is scheduled or in flight */
  webhooksIdle(): Promise<void>;
  /** send now every delivery a delay fault (or a retry's backoff) holds; returns how many (admin `POST /_emulator/deliveries/release`) */
  releaseWebhooks(): number;
  deliveries(): Delivery[];
  addApiFault(f: ApiFaultInput): ApiFault;
  addWebhookFault(f: WebhookFaultInput): WebhookFault;
  clearFaults(): void;
  /** admin shortcut: create a webhook endpoint with a chosen (or generated) secret; returns it with `secret` */
  addWebhookEndpoint(e: PreconfiguredEndpoint): { id: string; url: string; secret: string };
  /** finish a 3-D Secure challenge of a PaymentIntent (pi_) or SetupIntent (seti_) */
  completeThreeDS(intentId: string, success: boolean): void;
  /**
   * run the automatic payout schedule now (same as admin `POST /_emulator/payouts`): pending funds become
   * available, and each currency with a positive net not yet paid out gets one payout; returns the new payouts
   */
  runPayouts(options?: payouts.PayoutRunOptions): Stripe.Payout[];
  /** a `paid` payout fails afterwards (`payout.failed`, funds back in the available balance) */
  failPayout(payoutId: string): Stripe.Payout;
  /**
   * forget the idempotency keys of finished requests now, as Stripe does after 24 h (same as admin
   * `POST /_emulator/idempotency_keys/expire`); returns how many were forgotten
   */
  expireIdempotencyKeys(): number;
  /** the underlying emulator (state, router) for advanced tests */
  emulator: Emulator;
}

export function buildEmulator(config: Partial<EmulatorConfig> = {}): Emulator {
  const emu = new Emulator({ ...DEFAULT_CONFIG, ...config });
  for (const m of [customers, paymentMethods, paymentIntents, setupIntents, charges, disputes, refunds, payouts, balance, events, ephemeralKeys, webhookEndpoints, terminal]) m.register(emu);
  return emu;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<EmulatorHandle> {
  const host = options.host ?? '127.0.0.1';
  const emu = buildEmulator({
    secretKey: options.secretKey ?? DEFAULT_CONFIG.secretKey,
    publishableKey: options.publishableKey ?? DEFAULT_CONFIG.publishableKey,
    eventsReadKey: options.eventsReadKey ?? DEFAULT_CONFIG.eventsReadKey,
    webhooks: options.webhooks ?? [],
    webhookRetry: { ...DEFAULT_RETRY, ...(options.webhookRetry ?? {}) },
    asyncCaptureDelayMs: options.asyncCaptureDelayMs ?? DEFAULT_CONFIG.asyncCaptureDelayMs,
  });
  const log: LogFn | null =
    typeof options.log === 'function' ? options.log : options.log === true ? (line) => process.stdout.write(`${JSON.stringify(line)}\n`) : null;
  const server = createServer(emu, log);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${port}`;
  emu.config.baseUrl = url;
  resetEmulator(emu);
  return {
    url,
    port,
    host,
    secretKey: emu.config.secretKey,
    publishableKey: emu.config.publishableKey,
    eventsReadKey: emu.config.eventsReadKey,
    apiVersion: emu.config.apiVersion,
    stripeConfig: { host, port, protocol: 'http' },
    close: () =>
      new Promise<void>((resolve) => {
        emu.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    reset: () => resetEmulator(emu),
    webhooksIdle: () => emu.webhooks.idle(),
    releaseWebhooks: () => emu.webhooks.release(),
    deliveries: () => [...emu.webhooks.deliveries.values()],
    addApiFault: (f) => emu.faults.addApi(validateApiFault(f as Record<string, unknown>)),
    addWebhookFault: (f) => emu.faults.addWebhook(validateWebhookFault(f as Record<string, unknown>)),
    clearFaults: () => emu.faults.clear(),
    addWebhookEndpoint: (e) => {
      const ep = createWebhookEndpoint(emu, e);
      return { id: ep.id, url: ep.url, secret: ep.secret as string };
    },
    completeThreeDS: (id, success) => {
      if (id.startsWith('seti_')) completeSetupThreeDS(emu, emu.get(emu.store.setupIntents, 'setup_intent', id), success);
      else completeThreeDS(emu, emu.get(emu.store.paymentIntents, 'payment_intent', id), success);
    },
    runPayouts: (o) => snapshot(payouts.runPayouts(emu, validatePayoutRun((o ?? {}) as Record<string, unknown>))),
    failPayout: (id) => snapshot(payouts.failPayout(emu, emu.get(emu.store.payouts, 'payout', id))),
    expireIdempotencyKeys: () => emu.idempotency.expire(),
    emulator: emu,
  };
}

/** A copy detached from the store, so a caller cannot change the emulator's state by editing it. */
function snapshot<T>(o: unknown): T {
  return JSON.parse(JSON.stringify(o)) as T;
}
