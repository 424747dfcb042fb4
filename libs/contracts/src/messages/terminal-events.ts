import { z } from 'zod';
import { defineMessage } from '../define-message';
import { orderId, readerId, storeId } from '../primitives';
import { Topics } from '../topics';

export const ReaderRegistered = defineMessage({
  topic: Topics.terminalEvents,
  type: 'terminal.reader_registered',
  version: 1,
  schema: z.object({ readerId, storeId, stripeReaderId: z.string(), label: z.string() }),
  key: (d) => d.readerId,
});

export const ReaderActionChanged = defineMessage({
  topic: Topics.terminalEvents,
  type: 'terminal.reader_action_changed',
  version: 1,
  schema: z.object({
    readerId,
    storeId,
    orderId: orderId.nullable(),
    paymentIntentId: z.string().nullable(),
    status: z.enum(['started', 'succeeded', 'failed', 'canceled', 'timed_out']),
    failureCode: z.string().nullable(),
  }),
  key: (d) => d.readerId,
});
