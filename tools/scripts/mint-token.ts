// Mints a development bearer token for the gateway.
//   npm run token -- --role cashier --sub alice --store store_berlin [--ttl 3600]
// Uses JWT_SECRET from the environment (the gateway's setting), and JWT_ISSUER / JWT_AUDIENCE when the gateway is
// configured with them (else the development defaults); `npm start` prints tokens it minted itself.
import { MAX_TOKEN_LIFETIME_S, claimsSchema, mintToken, roleSchema } from '@omnipay/auth';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);

// During a rotation JWT_SECRET lists several keys; the first is the current one.
const secret = process.env.JWT_SECRET?.split(',')
  .map((k) => k.trim())
  .find(Boolean);
if (!secret) {
  process.stderr.write('JWT_SECRET is not set (the same value the gateway uses)\n');
  process.exit(1);
}
const role = roleSchema.safeParse(args.get('role'));
if (!role.success || !args.get('sub')) {
  process.stderr.write('usage: --role customer|cashier|manager|finance|admin --sub <user id> [--store <store id>] [--ttl <s>]\n');
  process.exit(2);
}
const ttlSeconds = Number(args.get('ttl') ?? 3600);
if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_LIFETIME_S) {
  process.stderr.write(`--ttl must be whole seconds from 1 to ${MAX_TOKEN_LIFETIME_S}: the gateway refuses a token living longer\n`);
  process.exit(2);
}
// The gateway's own rules (a store for staff only): a token it would refuse is not minted.
const claims = claimsSchema.safeParse({ sub: args.get('sub'), role: role.data, storeId: args.get('store'), iat: 0, exp: ttlSeconds });
if (!claims.success) {
  process.stderr.write(`${claims.error.issues.map((i) => i.message).join('; ')}\n`);
  process.exit(2);
}
process.stdout.write(
  `${mintToken(
    {
      sub: args.get('sub') as string,
      role: role.data,
      storeId: args.get('store'),
      ttlSeconds,
      ...(process.env.JWT_ISSUER ? { iss: process.env.JWT_ISSUER } : {}),
      ...(process.env.JWT_AUDIENCE ? { aud: process.env.JWT_AUDIENCE } : {}),
    },
    secret,
  )}\n`,
);
