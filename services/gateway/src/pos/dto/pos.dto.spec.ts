import { captureBody, payOnReaderBody } from './pos.dto';

describe('POS reader payment bodies', () => {
  it('take a reader and nothing else: the amount is the order total, captured whole', () => {
    expect(payOnReaderBody.safeParse({ readerId: 'tmr_1' }).success).toBe(true);
    expect(captureBody.safeParse({}).success).toBe(true);
  });

  it('refuse an amount to capture from the till (a short capture would leave the order flagged for good while the goods leave)', () => {
    expect(payOnReaderBody.safeParse({ readerId: 'tmr_1', amountToCapture: 1 }).success).toBe(false);
    expect(captureBody.safeParse({ amountToCapture: 1 }).success).toBe(false);
  });
});
