import { uuidFromName } from './uuid-from-name';

describe('uuidFromName', () => {
  it('gives the same v5-layout UUID for the same name, every time, and another for another name', () => {
    // Ids already written by payments and terminal (their outbox message ids) must not change.
    expect(uuidFromName('omnipay.payments:recon:ch_123')).toBe('65a61747-72b1-5c8b-b404-d9f93b89566c');
    expect(uuidFromName('omnipay.terminal:ract_1:succeeded')).toBe('84c95f1b-3806-585d-9d18-2807291cc158');
    expect(uuidFromName('a')).not.toBe(uuidFromName('b'));
    expect(uuidFromName('a')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
