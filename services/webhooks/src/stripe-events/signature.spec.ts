import { createHmac } from 'node:crypto';
import { verifyStripeSignature } from './signature';

const SECRET = 'whsec_current_0123456789abcdef';
const OLD = 'whsec_previous_0123456789abcdef';
const NOW = 1_800_000_000;
const body = Buffer.from(JSON.stringify({ id: 'evt_1', object: 'event' }, null, 2));

const sign = (payload: Buffer | string, secret: string, t = NOW) =>
  createHmac('sha256', secret).update(`${t}.`).update(payload).digest('hex');

const verify = (header: string | string[] | undefined, secrets = [SECRET], raw = body) =>
  verifyStripeSignature(raw, header, secrets, 300, NOW);

describe('verifyStripeSignature', () => {
  it('accepts a body signed with the configured secret and says which secret matched', () => {
    expect(verify(`t=${NOW},v1=${sign(body, SECRET)}`)).toEqual({ ok: true, timestamp: NOW, secretIndex: 0 });
  });

  it('rejects a forged signature', () => {
    expect(verify(`t=${NOW},v1=${'ab'.repeat(32)}`)).toEqual({ ok: false, reason: 'no_matching_signature' });
  });

  it('rejects a body changed after signing, even by one trailing byte', () => {
    const header = `t=${NOW},v1=${sign(body, SECRET)}`;
    expect(verify(header, [SECRET], Buffer.concat([body, Buffer.from(' ')]))).toEqual({
      ok: false,
      reason: 'no_matching_signature',
    });
  });

  it('rejects a signature made with another secret', () => {
    expect(verify(`t=${NOW},v1=${sign(body, 'whsec_someone_else_0123456789')}`)).toEqual({
      ok: false,
      reason: 'no_matching_signature',
    });
  });

  it('rejects a signature whose timestamp was swapped after signing', () => {
    expect(verify(`t=${NOW - 1},v1=${sign(body, SECRET)}`)).toEqual({
      ok: false,
      reason: 'no_matching_signature',
    });
  });

  it('accepts any of several v1 signatures against any configured secret during a rotation', () => {
    const header = `t=${NOW},v1=${sign(body, 'whsec_unknown_0123456789abcdef')},v1=${sign(body, OLD)}`;
    expect(verify(header, [SECRET, OLD])).toEqual({ ok: true, timestamp: NOW, secretIndex: 1 });
    const both = `t=${NOW},v1=${sign(body, OLD)},v1=${sign(body, SECRET)}`;
    expect(verify(both, [SECRET])).toEqual({ ok: true, timestamp: NOW, secretIndex: 0 });
  });

  it('rejects an old timestamp beyond the tolerance and accepts one at its edge', () => {
    const old = NOW - 301;
    expect(verify(`t=${old},v1=${sign(body, SECRET, old)}`)).toEqual({
      ok: false,
      reason: 'timestamp_outside_tolerance',
    });
    const edge = NOW - 300;
    expect(verify(`t=${edge},v1=${sign(body, SECRET, edge)}`)).toMatchObject({ ok: true });
  });

  it('rejects a timestamp in the future beyond the tolerance', () => {
    const future = NOW + 301;
    expect(verify(`t=${future},v1=${sign(body, SECRET, future)}`)).toEqual({
      ok: false,
      reason: 'timestamp_outside_tolerance',
    });
  });

  it('rejects a missing or empty header', () => {
    expect(verify(undefined)).toEqual({ ok: false, reason: 'missing_signature_header' });
    expect(verify('')).toEqual({ ok: false, reason: 'missing_signature_header' });
  });

  it.each([
    ['no timestamp', `v1=${'a'.repeat(64)}`],
    ['no v1', `t=${NOW}`],
    ['only v0', `t=${NOW},v0=${'a'.repeat(64)}`],
    ['non-numeric timestamp', `t=abc,v1=${'a'.repeat(64)}`],
    ['two timestamps', `t=${NOW},t=${NOW},v1=${'a'.repeat(64)}`],
    ['garbage', 'hello'],
    ['v1 not hex', `t=${NOW},v1=zz`],
  ])('rejects a malformed header (%s)', (_name, header) => {
    expect(verify(header)).toEqual({ ok: false, reason: 'malformed_signature_header' });
  });

  it('rejects a header repeated as an array', () => {
    const h = `t=${NOW},v1=${sign(body, SECRET)}`;
    expect(verify([h, h])).toEqual({ ok: false, reason: 'malformed_signature_header' });
  });
});
