import { Headers } from '@omnipay/contracts';
import { passedOver } from './kafka-consumer.server';

const withSubject = (subject?: string) => ({ headers: subject === undefined ? {} : { [Headers.subject]: Buffer.from(subject) } });
const readerEvents = new Set(['terminal.reader.action_succeeded', 'terminal.reader.action_failed']);

describe('subject filter of a consumer route', () => {
  it('passes over a message whose subject the route does not read', () => {
    expect(passedOver(readerEvents, withSubject('payment_intent.succeeded'))).toBe(true);
  });

  it('reads a message whose subject the route reads', () => {
    expect(passedOver(readerEvents, withSubject('terminal.reader.action_failed'))).toBe(false);
  });

  it('reads a message without a subject header (an older producer), and everything when the route names no subjects', () => {
    expect(passedOver(readerEvents, withSubject())).toBe(false);
    expect(passedOver(readerEvents, { headers: undefined })).toBe(false);
    expect(passedOver(undefined, withSubject('payment_intent.succeeded'))).toBe(false);
  });
});
