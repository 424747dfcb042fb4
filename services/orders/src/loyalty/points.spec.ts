import { accrualPoints, reversalTarget } from './points';

describe('loyalty points arithmetic', () => {
  it('accrues one point per whole currency unit, flooring partial units', () => {
    expect(accrualPoints(1250, 'usd', 1)).toBe(12);
    expect(accrualPoints(99, 'usd', 1)).toBe(0);
    expect(accrualPoints(1250, 'usd', 3)).toBe(36);
    expect(accrualPoints(700, 'jpy', 1)).toBe(700);
  });

  it('reverses pro rata on the absolute refunded amount, floored', () => {
    expect(reversalTarget(60, 6000, 2000, 0)).toBe(20);
    expect(reversalTarget(60, 6000, 6000, 0)).toBe(60);
    expect(reversalTarget(12, 1250, 1, 0)).toBe(0);
    expect(reversalTarget(12, 1250, 1249, 0)).toBe(11);
  });

  it('never reverses more than was accrued, even when refunds and disputes together exceed the payment', () => {
    expect(reversalTarget(60, 6000, 6000, 6000)).toBe(60);
    expect(reversalTarget(60, 6000, 7000, 0)).toBe(60);
  });

  it('gives a total that only depends on the final absolute amounts, not on the steps (partial then full)', () => {
    const steps = [333, 1000, 2500, 6000];
    let reversed = 0;
    for (const refunded of steps) reversed += reversalTarget(60, 6000, refunded, 0) - reversed;
    expect(reversed).toBe(60);
  });

  it('never over-reverses for any accrual and refund amount (exhaustive on small values)', () => {
    for (let paid = 1; paid <= 300; paid += 7) {
      const accrued = accrualPoints(paid * 37, 'usd', 2);
      for (let refunded = 0; refunded <= paid; refunded++) {
        const t = reversalTarget(accrued, paid, refunded, 0);
        expect(t).toBeLessThanOrEqual(accrued);
        expect(t * paid).toBeLessThanOrEqual(accrued * refunded);
      }
    }
  });

  it('handles amounts beyond 2^53 / accrued without losing precision', () => {
    expect(reversalTarget(9_000_000_000, 9_000_000_000_000, 4_500_000_000_000, 0)).toBe(4_500_000_000);
  });
});
