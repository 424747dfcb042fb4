import { z } from 'zod';

/**
 * Which stored events to re-publish. Criteria combine with AND; at least one is required so an empty body
 * cannot replay the whole history by accident. `type` may end in `.*` (e.g. `charge.*`). `from`/`to` bound the
 * time we received the event (`from` inclusive, `to` exclusive).
 */
export const replayRequestSchema = z
  .object({
    eventIds: z
      .array(z.string().regex(/^evt_[A-Za-z0-9_]{1,200}$/))
      .min(1)
      .max(10000)
      .optional(),
    type: z
      .string()
      .regex(/^[a-z0-9_.]+(\.\*)?$/)
      .max(200)
      .optional(),
    from: z.string().datetime({ offset: true }).optional(),
    to: z.string().datetime({ offset: true }).optional(),
  })
  .strict()
  .refine((r) => r.eventIds || r.type || r.from || r.to, { message: 'give eventIds, type, from or to' })
  .refine((r) => !r.from || !r.to || Date.parse(r.from) < Date.parse(r.to), {
    message: 'from must be before to',
    path: ['to'],
  });

export type ReplayRequest = z.infer<typeof replayRequestSchema>;
