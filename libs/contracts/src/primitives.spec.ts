import { customerId, orderId, sku } from './primitives';

describe('id primitives', () => {
  it('accept the ids of every source (ours, Stripe, an identity provider) and refuse control characters', () => {
    for (const ok of ['ord_01HX', 'MUG-WHT', 'auth0|5f1c', 'cus.name@example.com', 'Größe-M']) expect(customerId.safeParse(ok).success).toBe(true);
    for (const bad of ['a\u0000b', 'line\nbreak', 'tab\there', '\u007f', '']) expect(orderId.safeParse(bad).success).toBe(false);
    expect(sku.safeParse('x'.repeat(129)).success).toBe(false);
  });
});
