/**
 * Stripe's test payment methods (`pm_card_*` tokens and card numbers) and what each one does.
 */
import type { CardBehavior } from '../store';

export interface TestCard {
  number: string;
  brand: 'visa' | 'mastercard' | 'amex' | 'discover';
  funding: 'credit' | 'debit' | 'prepaid';
  country: string;
  behavior: CardBehavior;
}

const ok: CardBehavior = { kind: 'success' };
const decline = (code: string, decline_code: string, message: string): CardBehavior => ({ kind: 'decline', code, decline_code, message });
const GENERIC = decline('card_declined', 'generic_decline', 'Your card was declined.');
const INSUFFICIENT = decline('card_declined', 'insufficient_funds', 'Your card has insufficient funds.');

const card = (number: string, behavior: CardBehavior = ok, brand: TestCard['brand'] = 'visa', funding: TestCard['funding'] = 'credit'): TestCard => ({
  number,
  brand,
  funding,
  country: 'US',
  behavior,
});

export const TEST_TOKENS: Record<string, TestCard> = {
  pm_card_visa: card('4242424242424242'),
  pm_card_visa_debit: card('4000056655665556', ok, 'visa', 'debit'),
  pm_card_mastercard: card('5555555555554444', ok, 'mastercard'),
  pm_card_amex: card('378282246310005', ok, 'amex'),
  pm_card_bypassPending: card('4000000000000077'),
  pm_card_chargeDeclined: card('4000000000000002', GENERIC),
  pm_card_visa_chargeDeclined: card('4000000000000002', GENERIC),
  pm_card_chargeDeclinedInsufficientFunds: card('4000000000009995', INSUFFICIENT),
  pm_card_visa_chargeDeclinedInsufficientFunds: card('4000000000009995', INSUFFICIENT),
  pm_card_visa_chargeDeclinedLostCard: card('4000000000009987', decline('card_declined', 'lost_card', 'Your card was declined.')),
  pm_card_visa_chargeDeclinedStolenCard: card('4000000000009979', decline('card_declined', 'stolen_card', 'Your card was declined.')),
  pm_card_chargeDeclinedExpiredCard: card('4000000000000069', decline('expired_card', 'expired_card', 'Your card has expired.')),
  pm_card_chargeDeclinedIncorrectCvc: card('4000000000000127', decline('incorrect_cvc', 'incorrect_cvc', "Your card's security code is incorrect.")),
  pm_card_chargeDeclinedProcessingError: card(
    '4000000000000119',
    decline('processing_error', 'processing_error', 'An error occurred while processing your card. Try again in a little bit.'),
  ),
  pm_card_chargeCustomerFail: card('4000000000000341', GENERIC),
  pm_card_authenticationRequired: card('4000002760003184', { kind: 'authentication_required', unlessSetUp: false }),
  pm_card_threeDSecure2Required: card('4000002500003155', { kind: 'authentication_required', unlessSetUp: true }),
  pm_card_authenticationRequiredOnSetup: card('4000002500003155', { kind: 'authentication_required', unlessSetUp: true }),
  pm_card_createDispute: card('4000000000000259', { kind: 'success', dispute: true }),
  pm_card_createDisputeInquiry: card('4000000000001976', { kind: 'success', dispute: true }),
};

/** Card numbers (forms, `payment_method_data[card][number]`, Terminal `card_present[number]`). */
export const TEST_NUMBERS: Record<string, TestCard> = {};
for (const c of Object.values(TEST_TOKENS)) TEST_NUMBERS[c.number] ??= c;
/** Terminal convention: the reader never answers (the action stays in_progress until cancel_action). */
export const TIMEOUT_NUMBER = '4000000000000408';
TEST_NUMBERS[TIMEOUT_NUMBER] = card(TIMEOUT_NUMBER, { kind: 'timeout' });

export function cardForNumber(number: string): TestCard {
  const n = number.replace(/\s+/g, '');
  const known = TEST_NUMBERS[n];
  if (known) return known;
  const brand: TestCard['brand'] = n.startsWith('5') || n.startsWith('2') ? 'mastercard' : n.startsWith('3') ? 'amex' : n.startsWith('6') ? 'discover' : 'visa';
  return card(n, ok, brand);
}

/** Fee model: online cards 2.9% + 30, card_present 2.7% + 5 (minor units, rounded half up). */
export function stripeFee(amount: number, channel: 'online' | 'card_present'): number {
  return channel === 'card_present' ? Math.round((amount * 27) / 1000) + 5 : Math.round((amount * 29) / 1000) + 30;
}
