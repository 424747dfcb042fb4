// `npm start`: the whole platform on this machine with the Stripe emulator, a narrated demo, then it keeps
// running (URLs and tokens printed) until Ctrl-C, and stops what it started.
import { Demo } from './demo';
import { PORTS, startStack } from '@omnipay/testing';

async function main(): Promise<void> {
  console.log('Starting the Stripe emulator and the five services …');
  const stack = await startStack({ fresh: true, onProgress: (m) => console.log(`  ${m}`) });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping services …');
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  const demo = new Demo(stack);
  if (process.env.DEMO !== 'off') {
    try {
      await demo.run();
    } catch (error) {
      console.error('The demo failed:', error);
      if (process.env.DEMO_EXIT === '1') await stop();
    }
  }
  if (process.env.DEMO_EXIT === '1') return stop();

  console.log(`
The platform keeps running. Ctrl-C stops it.
  gateway API     http://127.0.0.1:${PORTS.gateway}   (OpenAPI: /openapi.json, page: /docs)
  services        orders :${PORTS.orders}  payments :${PORTS.payments}  webhooks :${PORTS.webhooks}  terminal :${PORTS.terminal}  (/health, /metrics)
  Stripe emulator ${stack.emulator.url}   (admin: /_emulator/…, docs/stripe-emulator.md)
  logs            .cache/logs/<service>.log
Tokens for this run (JWT_SECRET is generated per run):
  customer  ${demo.token('cust_alice', 'customer', { channel: 'web' })}
  cashier   ${demo.token('staff_berlin_1', 'cashier', { storeId: 'store_berlin' })}
  manager   ${demo.token('mgr_berlin', 'manager', { storeId: 'store_berlin' })}
  finance   ${demo.token('fin_frank', 'finance')}
  admin     ${demo.token('ops_admin', 'admin')}
Services' admin routes (/admin/dead-letters on the services with consumers; /admin/replay and /admin/backfill on webhooks), as Authorization: Bearer <token>:
  ADMIN_TOKEN ${stack.secrets.admin}`);
}

void main();
