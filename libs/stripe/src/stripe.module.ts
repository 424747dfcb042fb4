import { Global, Module, type DynamicModule } from '@nestjs/common';
import type Stripe from 'stripe';
import { createStripeClient, type StripeClientSettings } from './client';
import { StripeEventScope } from './event-scope';

/** Injection token of the configured Stripe SDK instance: `@Inject(STRIPE) stripe: Stripe`. */
export const STRIPE = Symbol('STRIPE');
export const STRIPE_PUBLISHABLE_KEY = Symbol('STRIPE_PUBLISHABLE_KEY');

export interface StripeModuleOptions extends StripeClientSettings {
  STRIPE_PUBLISHABLE_KEY: string;
}

@Global()
@Module({})
export class StripeModule {
  static forRoot(settings: StripeModuleOptions): DynamicModule {
    return {
      module: StripeModule,
      providers: [
        { provide: STRIPE, useFactory: (): Stripe => createStripeClient(settings) },
        { provide: STRIPE_PUBLISHABLE_KEY, useValue: settings.STRIPE_PUBLISHABLE_KEY },
        { provide: StripeEventScope, useFactory: () => new StripeEventScope(settings.STRIPE_SECRET_KEY) },
      ],
      exports: [STRIPE, STRIPE_PUBLISHABLE_KEY, StripeEventScope],
    };
  }
}
