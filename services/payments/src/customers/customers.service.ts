import { Inject, Injectable } from '@nestjs/common';
import { STRIPE, stripeIdempotencyKey } from '@omnipay/stripe';
import type Stripe from 'stripe';
import { DataSource } from 'typeorm';
import { fromStripeError } from '../common/http-errors';
import { PLATFORM } from '../payments/payment-state.service';

/** App channel: our customer ↔ Stripe customer, ephemeral keys / customer sessions, saved cards. */
@Injectable()
export class CustomersService {
  constructor(
    private readonly dataSource: DataSource,
    @Inject(STRIPE) private readonly stripe: Stripe,
  ) {}

  /** Get-or-create; Stripe's key is our customer id, so concurrent first calls converge on one Stripe customer. */
  async stripeCustomerId(customerId: string): Promise<string> {
    const [row] = await this.dataSource.query<{ stripe_customer_id: string }[]>(
      'SELECT stripe_customer_id FROM stripe_customers WHERE customer_id = $1',
      [customerId],
    );
    if (row) return row.stripe_customer_id;
    const created = await this.call(() =>
      this.stripe.customers.create(
        { metadata: { platform: PLATFORM, customerId } },
        { idempotencyKey: stripeIdempotencyKey('customer.create', customerId) },
      ),
    );
    await this.dataSource.query(
      'INSERT INTO stripe_customers (customer_id, stripe_customer_id) VALUES ($1,$2) ON CONFLICT DO NOTHING',
      [customerId, created.id],
    );
    const [stored] = await this.dataSource.query<{ stripe_customer_id: string }[]>(
      'SELECT stripe_customer_id FROM stripe_customers WHERE customer_id = $1',
      [customerId],
    );
    return stored.stripe_customer_id;
  }

  async customer(customerId: string) {
    return { customerId, stripeCustomerId: await this.stripeCustomerId(customerId) };
  }

  /** For the mobile PaymentSheet; `apiVersion` is the one the mobile SDK asks for. */
  async ephemeralKey(customerId: string, apiVersion: string) {
    const stripeCustomerId = await this.stripeCustomerId(customerId);
    const key = await this.call(() =>
      this.stripe.ephemeralKeys.create({ customer: stripeCustomerId }, { apiVersion }),
    );
    return {
      customerId,
      stripeCustomerId,
      ephemeralKeySecret: key.secret,
      expiresAt: new Date(key.expires * 1000).toISOString(),
    };
  }

  async customerSession(customerId: string) {
    const stripeCustomerId = await this.stripeCustomerId(customerId);
    const session = await this.call(() =>
      this.stripe.customerSessions.create({
        customer: stripeCustomerId,
        components: {
          mobile_payment_element: {
            enabled: true,
            features: {
              payment_method_save: 'enabled',
              payment_method_redisplay: 'enabled',
              payment_method_remove: 'enabled',
            },
          },
        },
      } as Stripe.CustomerSessionCreateParams),
    );
    return {
      customerId,
      stripeCustomerId,
      customerSessionClientSecret: session.client_secret,
      expiresAt: new Date(session.expires_at * 1000).toISOString(),
    };
  }

  /** A SetupIntent to save a card for later off-session payments; `setupRequestId` makes a retry return the same one. */
  async setupIntent(customerId: string, setupRequestId: string) {
    const stripeCustomerId = await this.stripeCustomerId(customerId);
    const si = await this.call(() =>
      this.stripe.setupIntents.create(
        {
          customer: stripeCustomerId,
          usage: 'off_session',
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          metadata: { platform: PLATFORM, customerId, setupRequestId },
        },
        { idempotencyKey: stripeIdempotencyKey('setup_intent.create', customerId, setupRequestId) },
      ),
    );
    return {
      customerId,
      stripeCustomerId,
      setupIntentId: si.id,
      status: si.status,
      clientSecret: si.client_secret,
    };
  }

  async savedCards(customerId: string) {
    const stripeCustomerId = await this.stripeCustomerId(customerId);
    const list = await this.call(() =>
      this.stripe.paymentMethods.list({ customer: stripeCustomerId, type: 'card', limit: 100 }),
    );
    return {
      customerId,
      cards: list.data.map((pm) => ({
        paymentMethodId: pm.id,
        brand: pm.card?.brand ?? null,
        last4: pm.card?.last4 ?? null,
        expMonth: pm.card?.exp_month ?? null,
        expYear: pm.card?.exp_year ?? null,
      })),
    };
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw fromStripeError(error) ?? error;
    }
  }
}
