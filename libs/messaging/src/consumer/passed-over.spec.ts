import { Headers } from '@omnipay/contracts';
import { passedOver } from './kafka-consumer.server';

const withHeaders = (headers: { subject?: string; type?: string }) => ({
  headers: {
    ...(headers.subject === undefined ? {} : { [Headers.subject]: Buffer.from(headers.subject) }),
    ...(headers.type === undefined ? {} : { [Headers.messageType]: Buffer.from(headers.type) }),
  },
});
const readerEvents = { subjects: new Set(['terminal.reader.action_succeeded', 'terminal.reader.action_failed']) };
const stockEffects = { types: new Set(['payment.succeeded', 'payment.refunded']) };

describe('subject and type filters of a consumer route', () => {
  it('passes over a message whose subject the route does not read', () => {
    expect(passedOver(readerEvents, withHeaders({ subject: 'payment_intent.succeeded', type: 'stripe.event_received' }))).toBe(true);
  });

  it('reads a message whose subject the route reads', () => {
    expect(passedOver(readerEvents, withHeaders({ subject: 'terminal.reader.action_failed', type: 'stripe.event_received' }))).toBe(false);
  });

  it('passes over a message whose type the route does not read, and reads the types it names', () => {
    expect(passedOver(stockEffects, withHeaders({ type: 'payment.created' }))).toBe(true);
    expect(passedOver(stockEffects, withHeaders({ type: 'payment.refunded' }))).toBe(false);
  });

  it('needs both to match when a route names subjects and types', () => {
    const both = { ...readerEvents, types: new Set(['stripe.event_received']) };
    expect(passedOver(both, withHeaders({ subject: 'terminal.reader.action_failed', type: 'stripe.event_received' }))).toBe(false);
    expect(passedOver(both, withHeaders({ subject: 'terminal.reader.action_failed', type: 'stripe.other' }))).toBe(true);
    expect(passedOver(both, withHeaders({ subject: 'charge.succeeded', type: 'stripe.event_received' }))).toBe(true);
  });

  it('reads a message without the header (an older producer), and everything when the route names no filter', () => {
    expect(passedOver(readerEvents, withHeaders({}))).toBe(false);
    expect(passedOver(stockEffects, withHeaders({ subject: 'x' }))).toBe(false);
    expect(passedOver(readerEvents, { headers: undefined })).toBe(false);
    expect(passedOver({}, withHeaders({ subject: 'payment_intent.succeeded', type: 'payment.created' }))).toBe(false);
  });
});
