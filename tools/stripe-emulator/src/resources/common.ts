import { invalidRequest } from '../http/errors';
import type { Params } from '../http/params';

const MIN_AMOUNT: Record<string, number> = { usd: 50, eur: 50, cad: 50, aud: 50, chf: 50, gbp: 30, jpy: 50 };

export function checkCurrency(c: string, param = 'currency'): string {
  const lc = c.toLowerCase();
  if (!/^[a-z]{3}$/.test(lc)) throw invalidRequest(`Invalid currency: ${c}. Stripe currently supports these currencies: usd, eur, gbp, …`, { param });
  return lc;
}

export function checkAmount(amount: number, currency: string, param = 'amount'): void {
  if (amount < 1) throw invalidRequest('This value must be greater than or equal to 1.', { param, code: 'parameter_invalid_integer' });
  if (amount > 99_999_999) throw invalidRequest('Amount must be no more than $999,999.99', { param, code: 'amount_too_large' });
  const min = MIN_AMOUNT[currency];
  if (min !== undefined && amount < min) {
    throw invalidRequest(`Amount must be at least ${min} ${currency} minor units`, { param, code: 'amount_too_small' });
  }
}

/** Stripe's metadata update semantics: keys merge; an empty value removes the key. */
export function mergeMetadata(current: Record<string, string>, update: Record<string, string> | undefined): Record<string, string> {
  if (!update) return current;
  if (Object.keys(update).length === 0) return {};
  const out = { ...current };
  for (const [k, v] of Object.entries(update)) {
    if (v === '') delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Copy the listed params onto obj (recording previous values) — for simple updatable fields. */
export function applyUpdates(obj: Record<string, any>, params: Params, fields: string[], previous: Record<string, unknown>): void {
  for (const f of fields) {
    if (!(f in params)) continue;
    const v = params[f] === '' ? null : params[f];
    if (JSON.stringify(obj[f]) !== JSON.stringify(v)) {
      previous[f] = obj[f] ?? null;
      obj[f] = v;
    }
  }
  if ('metadata' in params) {
    const next = mergeMetadata(obj.metadata ?? {}, params.metadata);
    if (JSON.stringify(next) !== JSON.stringify(obj.metadata)) {
      previous.metadata = obj.metadata;
      obj.metadata = next;
    }
  }
}

export const nullAddress = () => ({ city: null, country: null, line1: null, line2: null, postal_code: null, state: null });
