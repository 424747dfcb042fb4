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

  it('removes customer session secrets, bare JWTs and the password of a Redis URL without a user', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl';
    const out = scrubString(`session cuss_secret_QWxh9_x token ${jwt} redis redis://:s3cret@cache:6379 http://host:8080/a@b`);
    expect(out).not.toMatch(/cuss_secret_Q|eyJhbGci|s3cret/);
    expect(out).toContain('redis://:[redacted]@cache:6379');
    expect(out).toContain('http://host:8080/a@b'); // a port is not a password
  });

  it('cuts off what is nested deeper than it walks instead of passing it on unscrubbed', () => {
    let deep: Record<string, unknown> = { clientSecret: 'pi_1_secret_2', note: 'sk_live_ABC' };
    for (let i = 0; i < 12; i++) deep = { next: deep };
    expect(JSON.stringify(scrub(deep))).not.toMatch(/pi_1_secret_2|sk_live_ABC/);
  });
});
