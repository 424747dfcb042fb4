import { z } from 'zod';

export const readerIdSchema = z.string().regex(/^rdr_[a-f0-9]{1,64}$/, 'a reader id (rdr_…)');

export const registerReaderBody = z
  .object({
    /** The code the reader shows (or `simulated-wpe` / `simulated-s700` / `simulated-s710` in test mode). */
    registrationCode: z.string().trim().min(1).max(100),
    label: z.string().trim().min(1).max(100),
  })
  .strict();
export type RegisterReaderBody = z.infer<typeof registerReaderBody>;
