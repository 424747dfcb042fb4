// Shared by the whole-platform benchmarks: start the isolated stack, tear it down (schemas and topics too) on
// success, failure or Ctrl-C, HTTP helpers, and per-service CPU / peak RSS from /proc.
import { performance } from 'node:perf_hooks';
import { mintToken } from '@omnipay/auth';
import { TestDatabase, startStack, testKafka, type ServiceName, type Stack, type StackOptions } from '@omnipay/testing';
import type Stripe from 'stripe';
import { cpuSeconds, peakRssMb, useDeployedRuntime } from '../lib';

export const SERVICES: ServiceName[] = ['webhooks', 'payments', 'orders', 'terminal', 'gateway'];
export const ONLINE_FC = 'online_fc';

export interface Platform {
  stack: Stack;
  db: TestDatabase;
  /** A customer bearer token for the gateway. */
  token(sub: string): string;
}

export interface Json {
  [k: string]: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

let active: { stack?: Stack; db?: TestDatabase; cleaning?: Promise<void> } = {};

/**
 * Stops every service, closes the emulator, drops the stack's schemas and deletes its topics. Idempotent; each
 * step is best effort so one failure does not leave the rest behind.
 */
export function cleanup(): Promise<void> {
  active.cleaning ??= (async () => {
    const { stack, db } = active;
    if (!stack) return;
    console.log('\ncleaning up: stopping services, dropping schemas and topics …');
    await stack.stop().catch((e: Error) => console.error(`  stopping the stack failed: ${e.message}`));
    const database = db ?? new TestDatabase(stack.engines.DATABASE_URL);
    for (const s of SERVICES) {
      await database.dropSchema(stack.schema(s)).catch((e: Error) => console.error(`  dropping ${stack.schema(s)}: ${e.message}`));
    }
    await database.close().catch(() => undefined);
    const admin = testKafka(stack.engines.KAFKA_BROKERS).admin();
    try {
      await admin.connect();
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(stack.topicPrefix));
      if (topics.length) await admin.deleteTopics({ topics, timeout: 30000 });
    } catch (e) {
      console.error(`  deleting topics ${stack.topicPrefix}*: ${(e as Error).message}`);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  })();
  return active.cleaning;
}

/**
 * Runs a benchmark body against a fresh isolated platform and always cleans up. Services log at `warn` unless
 * LOG_LEVEL says otherwise: info-level access logs would be parsed by this process and skew its CPU.
 */
export async function withPlatform(
  name: string,
  options: Pick<StackOptions, 'env'>,
  body: (p: Platform) => Promise<void>,
): Promise<void> {
  process.env.LOG_LEVEL ??= 'warn';
  const interrupted = (signal: string) => {
    console.error(`\n${name}: ${signal}, stopping`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let failed = false;
  try {
    console.log(`${name}: ${useDeployedRuntime(SERVICES)}`);
    console.log(`${name}: starting the platform (emulator + ${SERVICES.join(', ')}) …`);
    const started = Date.now();
    let stack: Stack;
    try {
      stack = await startStack({ isolated: true, env: options.env, onProgress: (m) => console.log(`  ${m}`) });
    } catch (e) {
      throw new Error(
        `could not start the platform (are the engines up? tools/infra/infra.sh up). Note: services that did start ` +
          `before the failure may still be running.\n${(e as Error).message}`,
      );
    }
    active = { stack, db: new TestDatabase(stack.engines.DATABASE_URL) };
    console.log(`  ready in ${((Date.now() - started) / 1000).toFixed(1)} s (topic prefix ${stack.topicPrefix})`);
    await body({
      stack,
      db: active.db as TestDatabase,
      token: (sub) => mintToken({ sub, role: 'customer', channel: 'web', ttlSeconds: 6 * 3600 }, stack.secrets.jwt),
    });
  } catch (e) {
    failed = true;
    console.error(`\n${name} FAILED: ${(e as Error).stack ?? String(e)}`);
    for (const [svc, proc] of Object.entries(active.stack?.services ?? {})) {
      const tail = proc.tail(10);
      if (tail) console.error(`--- last log lines of ${svc} ---\n${tail}`);
    }
  } finally {
    await cleanup();
  }
  process.exit(failed ? 1 : 0);
}

export async function http<T = Json>(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    /* not JSON: keep the text for the error message */
  }
  return { status: res.status, body: parsed as T };
}

export interface ConfirmedPayment {
  orderId: string;
  paymentIntentId: string;
  checkoutMs: number;
  confirmMs: number;
}

/**
 * One customer's payment as an app makes it: a gateway checkout of one unit of `sku`, then a browser-side confirm
 * with pm_card_visa and the client secret (publishable key only). A checkout the gateway refused is thrown as
 * `checkout <status> <code>`; a failed confirm as the Stripe SDK's error.
 */
export async function checkoutAndConfirm(stack: Stack, browser: Stripe, bearer: string, sku: string): Promise<ConfirmedPayment> {
  const t0 = performance.now();
  const co = await http(
    `${stack.urls.gateway}/v1/checkout`,
    'POST',
    { fulfilment: 'ship', currency: 'usd', lines: [{ sku, quantity: 1 }] },
    { authorization: `Bearer ${bearer}` },
  );
  if (co.status !== 201) throw new Error(`checkout ${co.status} ${String((co.body.error as Json | undefined)?.code ?? '')}`.trim());
  const t1 = performance.now();
  await browser.paymentIntents.confirm(co.body.paymentIntentId as string, {
    payment_method: 'pm_card_visa',
    client_secret: co.body.clientSecret,
  } as Stripe.PaymentIntentConfirmParams);
  return { orderId: co.body.orderId as string, paymentIntentId: co.body.paymentIntentId as string, checkoutMs: t1 - t0, confirmMs: performance.now() - t1 };
}

export async function setStock(stack: Stack, sku: string, onHand: number): Promise<void> {
  const res = await http(`${stack.urls.orders}/inventory/stock/${ONLINE_FC}/${sku}`, 'PUT', { onHand });
  if (res.status !== 200) throw new Error(`setting stock of ${sku} failed: ${res.status} ${JSON.stringify(res.body)}`);
}

export async function stockOf(stack: Stack, sku: string): Promise<{ onHand: number; reserved: number; available: number }> {
  const res = await http<{ stock: { onHand: number; reserved: number; available: number }[] }>(
    `${stack.urls.orders}/inventory/stock?sku=${encodeURIComponent(sku)}&locationId=${ONLINE_FC}`,
    'GET',
  );
  if (res.status !== 200 || !res.body.stock[0]) throw new Error(`reading stock of ${sku}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.stock[0];
}

/** CPU seconds consumed so far by each service process. */
export function cpuSnapshot(stack: Stack): Record<ServiceName, number> {
  return Object.fromEntries(SERVICES.map((s) => [s, cpuSeconds(stack.services[s].pid as number)])) as Record<ServiceName, number>;
}

export function benchCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** One row per service: CPU seconds per 1,000 units of work over a window, and peak RSS so far. */
export function resourceRows(
  stack: Stack,
  before: Record<ServiceName, number>,
  units: number,
  unitName: string,
  benchCpu?: number,
): Record<string, string | number>[] {
  const after = cpuSnapshot(stack);
  const rows: Record<string, string | number>[] = SERVICES.map((s) => ({
    process: s,
    'cpu s': (after[s] - before[s]).toFixed(2),
    [`cpu s / 1k ${unitName}`]: units > 0 ? (((after[s] - before[s]) / units) * 1000).toFixed(3) : '-',
    'peak RSS MB': Math.round(peakRssMb(stack.services[s].pid as number)),
  }));
  if (benchCpu !== undefined) {
    rows.push({
      process: 'bench (emulator + load)',
      'cpu s': benchCpu.toFixed(2),
      [`cpu s / 1k ${unitName}`]: units > 0 ? ((benchCpu / units) * 1000).toFixed(3) : '-',
      'peak RSS MB': Math.round(peakRssMb(process.pid)),
    });
  }
  return rows;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until the platform is quiet: no webhook delivery pending, nothing unpublished in any outbox, and no
 * inbox growing for a second (so one phase's webhook and consumer work does not spill into the next phase).
 */
export async function settle(stack: Stack, db: TestDatabase, timeoutMs = 120000, options: { webhooks?: boolean } = {}): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  // A phase that parked the emulator's deliveries behind a long delay says so; its webhooks never go idle.
  if (options.webhooks !== false) await Promise.race([stack.emulator.webhooksIdle(), sleep(timeoutMs)]);
  const snapshot = async () => {
    let inbox = 0;
    let unpublished = 0;
    for (const s of SERVICES) {
      const [row] = await db
        .query<{ i: number; u: number }>(
          `SELECT (SELECT count(*)::int FROM "${stack.schema(s)}".inbox) i, (SELECT count(*)::int FROM "${stack.schema(s)}".outbox WHERE published_at IS NULL) u`,
        )
        .catch(() => [{ i: 0, u: 0 }]);
      inbox += row.i;
      unpublished += row.u;
    }
    return { inbox, unpublished };
  };
  let last = await snapshot();
  while (Date.now() < deadline) {
    await sleep(1000);
    const now = await snapshot();
    if (now.unpublished === 0 && now.inbox === last.inbox) return;
    last = now;
  }
  console.log(`  (platform still busy after ${timeoutMs / 1000} s; going on)`);
}

export function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}
