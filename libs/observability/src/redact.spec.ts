import { scrub, scrubString } from './redact';

describe('secret scrubbing', () => {
  it('removes Stripe keys, webhook secrets and client secrets from free text', () => {
    const line = 'key sk_test_51Habc123 secret whsec_AbC123= client pi_3Nabc_secret_xyz789 ek ek_test_YWJj pst_test_abc';
    const out = scrubString(line);
    expect(out).not.toMatch(/sk_test_51|whsec_AbC|_secret_xyz|ek_test_Y|pst_test_a/);
    expect(out).toContain('[redacted]');
  });

  it('keeps ids that are not secrets', () => {
    expect(scrubString('pi_3Nabc ch_123 evt_1 cus_9')).toBe('pi_3Nabc ch_123 evt_1 cus_9');
  });

  it('redacts secret-named fields and passwords in connection strings, at any depth', () => {
    const out = scrub({ a: { apiKey: 'x', url: 'postgres://app:hunter2@db/x' }, list: [{ authorization: 'Bearer abc' }] });
    expect(JSON.stringify(out)).not.toMatch(/hunter2|"x"|abc/);
  });
});
