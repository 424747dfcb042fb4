/**
 * The baseline of the ingest benchmark: a webhook handler in the style of Stripe's own samples (Express,
 * `express.raw`, `stripe.webhooks.constructEvent`, answer 200). It stores nothing, dedups nothing, publishes nothing.
 * Env: PORT, STRIPE_WEBHOOK_SECRET.
 */
import express from 'express';
import Stripe from 'stripe';

const stripe = new Stripe('sk_test_baseline_not_used');
const endpointSecret = process.env.STRIPE_WEBHOOK_SECRET ?? '';
const app = express();

app.get('/health/ready', (_req, res) => {
  res.json({ status: 'ok' });
});

app.post('/webhook', express.raw({ type: 'application/json' }), (request, response) => {
  const sig = request.headers['stripe-signature'];
  let event: Stripe.Event;
  try {
    event = stripe.webhooks.constructEvent(request.body as Buffer, sig as string, endpointSecret);
  } catch (err) {
    response.status(400).send(`Webhook Error: ${(err as Error).message}`);
    return;
  }
  switch (event.type) {
    case 'payment_intent.succeeded':
      break;
    default:
      break;
  }
  response.json({ received: true });
});

app.listen(Number(process.env.PORT ?? 4242), '127.0.0.1');
