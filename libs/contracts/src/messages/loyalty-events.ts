import { z } from 'zod';
import { defineMessage } from '../define-message';
import { customerId, orderId } from '../primitives';
import { Topics } from '../topics';

export const PointsChanged = defineMessage({
  topic: Topics.loyaltyEvents,
  type: 'loyalty.points_changed',
  version: 1,
  schema: z.object({
    customerId,
    orderId,
    entryId: z.string(),
    reason: z.enum(['accrual', 'refund_reversal', 'dispute_reversal']),
    points: z.number().int(),
    balance: z.number().int(),
  }),
  key: (d) => d.customerId,
});
