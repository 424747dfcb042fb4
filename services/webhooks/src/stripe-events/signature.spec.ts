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
  it('accepts a body signed with the configured secret and says which secret matched and how old the signature is', () => {
    expect(verify(`t=${NOW},v1=${sign(body, SECRET)}`)).toEqual({
      ok: true,
      timestamp: NOW,
      secretIndex: 0,
      ageSeconds: 0,
    });
    const t = NOW - 42;
    expect(verify(`t=${t},v1=${sign(body, SECRET, t)}`)).toMatchObject({ ok: true, ageSeconds: 42 });
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
    expect(verify(header, [SECRET, OLD])).toEqual({
      ok: true,
      timestamp: NOW,
      secretIndex: 1,
      ageSeconds: 0,
    });
    const both = `t=${NOW},v1=${sign(body, OLD)},v1=${sign(body, SECRET)}`;
    expect(verify(both, [SECRET])).toEqual({ ok: true, timestamp: NOW, secretIndex: 0, ageSeconds: 0 });
  });

  it('rejects a correctly signed old timestamp beyond the tolerance with its age, and accepts one at its edge', () => {
    const old = NOW - 301;
    expect(verify(`t=${old},v1=${sign(body, SECRET, old)}`)).toEqual({
      ok: false,
      reason: 'timestamp_outside_tolerance',
      ageSeconds: 301,
    });
    const edge = NOW - 300;
    expect(verify(`t=${edge},v1=${sign(body, SECRET, edge)}`)).toMatchObject({ ok: true, ageSeconds: 300 });
  });

  it('rejects a correctly signed timestamp in the future beyond the tolerance with a negative age, and accepts one at its edge', () => {
    const future = NOW + 301;
    expect(verify(`t=${future},v1=${sign(body, SECRET, future)}`)).toEqual({
      ok: false,
      reason: 'timestamp_outside_tolerance',
      ageSeconds: -301,
    });
    const edge = NOW + 300;
    expect(verify(`t=${edge},v1=${sign(body, SECRET, edge)}`)).toMatchObject({ ok: true, ageSeconds: -300 });
  });

  it('follows the tolerance it is given, not a fixed one', () => {
    const t = NOW - 61;
    const header = `t=${t},v1=${sign(body, SECRET, t)}`;
    expect(verifyStripeSignature(body, header, [SECRET], 60, NOW)).toMatchObject({
      reason: 'timestamp_outside_tolerance',
      ageSeconds: 61,
    });
    expect(verifyStripeSignature(body, header, [SECRET], 61, NOW)).toMatchObject({
      ok: true,
      ageSeconds: 61,
    });
  });

  it('rejects a correctly signed delivery outside the tolerance even when the matching secret is an older one', () => {
    const old = NOW - 600;
    const header = `t=${old},v1=${sign(body, 'whsec_unknown_0123456789abcdef', old)},v1=${sign(body, OLD, old)}`;
    expect(verify(header, [SECRET, OLD])).toEqual({
      ok: false,
      reason: 'timestamp_outside_tolerance',
      ageSeconds: 600,
    });
  });

  it.each([
    ['a stale timestamp', -3600],
    ['a timestamp from the future', 3600],
  ])(
    'calls a forged or wrongly signed delivery with %s a signature mismatch, not a clock problem',
    (_name, offset) => {
      const t = NOW + offset;
      for (const header of [
        `t=${t},v1=${'ab'.repeat(32)}`,
        `t=${t},v1=${sign(body, 'whsec_someone_else_0123456789', t)}`,
        // A genuine signature of now, with the timestamp moved after signing.
        `t=${t},v1=${sign(body, SECRET)}`,
      ])
        expect(verify(header)).toEqual({ ok: false, reason: 'no_matching_signature' });
      // The body signed at that time is refused for the time: the line above was not an accident of the body.
      expect(verify(`t=${t},v1=${sign(body, SECRET, t)}`)).toMatchObject({
        reason: 'timestamp_outside_tolerance',
      });
    },
  );

  it('calls a stale delivery whose body changed after signing a signature mismatch', () => {
    const old = NOW - 3600;
    const header = `t=${old},v1=${sign(body, SECRET, old)}`;
    expect(verify(header, [SECRET], Buffer.concat([body, Buffer.from(' ')]))).toEqual({
      ok: false,
      reason: 'no_matching_signature',
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
