import { z } from 'zod';

export const roles = ['customer', 'cashier', 'manager', 'finance', 'admin'] as const;
export const roleSchema = z.enum(roles);
export type Role = z.infer<typeof roleSchema>;

/** Store staff carry the store they work in; everyone else must not. */
export const claimsSchema = z
  .object({
    sub: z.string().min(1).max(128),
    role: roleSchema,
    storeId: z.string().min(1).max(64).optional(),
    /** Which client the token was issued to; the channel of orders it places. */
    channel: z.enum(['app', 'web', 'pos']).optional(),
    iat: z.number().int(),
    exp: z.number().int(),
    /** Not valid before (unix s), when the issuer sets it. */
    nbf: z.number().int().optional(),
    /** Who issued the token and for whom: the gateway accepts only its configured pair (JWT_ISSUER, JWT_AUDIENCE). */
    iss: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
  })
  .superRefine((c, ctx) => {
    const staff = c.role === 'cashier' || c.role === 'manager';
    if (staff && !c.storeId) ctx.addIssue({ code: 'custom', message: `${c.role} tokens need a storeId`, path: ['storeId'] });
    // A store on another role's token would be read somewhere (an admin's counter return restocks there): refused.
    if (!staff && c.storeId !== undefined)
      ctx.addIssue({ code: 'custom', message: `${c.role} tokens must not carry a storeId`, path: ['storeId'] });
  });

export type Claims = z.infer<typeof claimsSchema>;
