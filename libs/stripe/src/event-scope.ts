import { metricsRegistry } from '@omnipay/observability';
import { Counter } from 'prom-client';
import Stripe from 'stripe';

const outOfScope = new Counter({
  name: 'stripe_events_out_of_scope_total',
  help: "Verified Stripe events passed over because they are not this deployment's: another mode, or a connected account",
  labelNames: ['consumer', 'reason'],
  registers: [metricsRegistry],
});

const otherApiVersion = new Counter({
  name: 'stripe_events_other_api_version_total',
  help: "Stripe events rendered in another API version than the SDK's (applied; their objects may be shaped differently)",
  labelNames: ['consumer', 'api_version'],
  registers: [metricsRegistry],
});

/** What a consumer reads of a Stripe event to know whether it is this deployment's. */
export interface EventScopeFields {
  livemode?: unknown;
  account?: unknown;
  api_version?: unknown;
}

/**
 * Which Stripe events this deployment acts on. The webhooks service stores every event whose signature holds, but an
 * endpoint set up with the wrong secret's mode (live events reaching a test deployment, or the reverse) or a connected
 * account's event (the platform does not use Connect) must change nothing: passed over and counted, never an error
 * that would dead-letter it. An event rendered in another API version than the SDK pins is applied (consumers read
 * fields tolerantly) but counted: the webhook endpoint's version should be the SDK's, and a difference is worth a
 * look before an object's shape surprises a consumer.
 */
export class StripeEventScope {
  /** The mode of the secret key: `sk_live_…`/`rk_live_…` is live, anything else (test keys, the emulator's) is not. */
  readonly livemode: boolean;

  constructor(
    secretKey: string,
    readonly apiVersion: string = Stripe.API_VERSION,
  ) {
    this.livemode = /^(sk|rk)_live_/.test(secretKey);
  }

  /** Whether `consumer` should act on the event; false ones are counted by reason. */
  admits(event: EventScopeFields, consumer: string): boolean {
    if (event.livemode !== this.livemode) {
      outOfScope.inc({ consumer, reason: 'other_mode' });
      return false;
    }
    if (typeof event.account === 'string' && event.account !== '') {
      outOfScope.inc({ consumer, reason: 'connected_account' });
      return false;
    }
    if (typeof event.api_version === 'string' && event.api_version !== this.apiVersion)
      otherApiVersion.inc({ consumer, api_version: event.api_version.slice(0, 40) });
    return true;
  }
}
