import { childTraceparent } from './request-context';
import { randomHex } from './random-hex';

describe('childTraceparent', () => {
  it("continues the caller's trace with a new span, keeping its flags", () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const child = childTraceparent(parent);
    expect(child).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    expect(child).not.toBe(parent);
  });

  it('starts a new sampled trace when there is no parent or it is malformed', () => {
    for (const parent of [
      undefined,
      'garbage',
      ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'],
    ]) {
      expect(childTraceparent(parent)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    }
  });
});

describe('randomHex', () => {
  it('never repeats itself across pool refills', () => {
    const seen = new Set(Array.from({ length: 5000 }, () => randomHex(32)));
    expect(seen.size).toBe(5000);
    expect([...seen].every((h) => /^[0-9a-f]{32}$/.test(h))).toBe(true);
  });
});
