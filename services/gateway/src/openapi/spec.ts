import type { Role } from '@omnipay/auth';
import { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { checkoutBody, checkoutResponse } from '../checkout/dto/checkout.dto';
import { auditBody, entriesQuery, summaryQuery } from '../finance/dto/audit.dto';
import { payoutLinesQuery, payoutsQuery } from '../finance/dto/payouts.dto';
import { ephemeralKeyBody } from '../me/dto/me.dto';
import { listQuery, refundBody } from '../orders/dto/refund.dto';
import { captureBody, payOnReaderBody, posOrderBody, registerReaderBody, storeBody } from '../pos/dto/pos.dto';

interface Route {
  method: 'get' | 'post';
  path: string;
  summary: string;
  roles: Role[] | 'public';
  body?: z.ZodTypeAny;
  /** the query string, from the same schema the controller parses it with */
  query?: z.AnyZodObject;
  response?: z.ZodTypeAny;
  idempotent?: boolean;
  params?: string[];
  /** the success status: by default 201 for a POST (Nest's default), 200 for a GET */
  status?: '200' | '201' | '202';
  /** when the route answers 202 instead (accepted, still under way) */
  accepted?: string;
}

/**
 * Every public route of the gateway, described from the same zod schemas the controllers validate with.
 * `openapi.spec.ts` fails if the checked-in services/gateway/openapi.json drifts from this.
 */
export const routes: Route[] = [
  { method: 'get', path: '/v1/config', summary: 'Publishable key for the Stripe client SDKs', roles: 'public', response: z.object({ publishableKey: z.string() }) },
  {
    method: 'post',
    path: '/v1/checkout',
    summary:
      'Place a server-priced order and create its PaymentIntent; answers with the client secret. A PaymentIntent Stripe refuses (422) cancels the order and frees its stock; after a 502/504 retry with the same Idempotency-Key',
    roles: ['customer'],
    body: checkoutBody,
    response: checkoutResponse,
    idempotent: true,
  },
  { method: 'get', path: '/v1/orders', summary: "List orders: a customer's own, a store's for its staff", roles: ['customer', 'cashier', 'manager', 'admin'], query: listQuery },
  { method: 'get', path: '/v1/orders/{id}', summary: 'One order with lines, status, payment summary and history', roles: ['customer', 'cashier', 'manager', 'admin'], params: ['id'] },
  { method: 'post', path: '/v1/orders/{id}/cancel', summary: 'Cancel an unpaid order (releases its stock; its PaymentIntent is cancelled at Stripe, so it can no longer be paid). A customer cannot cancel an in-store order (409 cancel_at_the_till)', roles: ['customer', 'cashier', 'manager', 'admin'], params: ['id'], status: '200' },
  { method: 'post', path: '/v1/orders/{id}/ready-for-pickup', summary: 'Staff: a pickup order is ready at the store', roles: ['cashier', 'manager', 'admin'], params: ['id'], status: '200' },
  { method: 'post', path: '/v1/orders/{id}/picked-up', summary: 'Staff: the customer collected the order', roles: ['cashier', 'manager', 'admin'], params: ['id'], status: '200' },
  { method: 'post', path: '/v1/orders/{id}/fulfilled', summary: 'Staff: a shipped order was fulfilled', roles: ['cashier', 'manager', 'admin'], params: ['id'], status: '200' },
  {
    method: 'post',
    path: '/v1/orders/{id}/refunds',
    summary: "Refund all or part of an order to its original payment; returned items restock at the refunding store. Items come back once: all refunds of an order together return at most what it holds (422 too_many_items_returned). A manager refunding another store's online order (a counter return) does so once it was delivered (409 not_delivered), names the items handed back and refunds at most their value (422 return_items_required, item_not_on_order, amount_exceeds_returned_items)",
    roles: ['manager', 'admin'],
    body: refundBody,
    params: ['id'],
    idempotent: true,
  },
  { method: 'post', path: '/v1/me/customer', summary: 'App: get or create my Stripe customer', roles: ['customer'], status: '200' },
  { method: 'post', path: '/v1/me/ephemeral-keys', summary: 'App: ephemeral key for PaymentSheet', roles: ['customer'], body: ephemeralKeyBody },
  { method: 'post', path: '/v1/me/customer-sessions', summary: 'App: customer session for PaymentSheet', roles: ['customer'] },
  { method: 'post', path: '/v1/me/setup-intents', summary: 'App: SetupIntent to save a card', roles: ['customer'], idempotent: true },
  { method: 'get', path: '/v1/me/payment-methods', summary: 'App: my saved cards', roles: ['customer'] },
  { method: 'get', path: '/v1/me/loyalty', summary: 'My loyalty balance and ledger', roles: ['customer'] },
  { method: 'post', path: '/v1/pos/orders', summary: "POS: an in-store order at the staff member's store (server-priced)", roles: ['cashier', 'manager'], body: posOrderBody, idempotent: true },
  { method: 'post', path: '/v1/pos/orders/{orderId}/pay', summary: "POS: take the order's payment on one of the store's readers (409 order_not_payable unless the order is unpaid). The answer is the reader payment: in_progress once the reader has it; pending when Stripe did not confirm the hand-off (follow it: it settles within a minute; cancel-action frees the reader sooner).", roles: ['cashier', 'manager'], body: payOnReaderBody, params: ['orderId'] },
  { method: 'get', path: '/v1/pos/orders/{orderId}/reader-payments', summary: 'POS: reader payment attempts of an order', roles: ['cashier', 'manager'], params: ['orderId'] },
  { method: 'get', path: '/v1/pos/readers', summary: "POS: the store's readers with status and current action", roles: ['cashier', 'manager'] },
  { method: 'post', path: '/v1/pos/readers', summary: 'POS: register a reader to the store', roles: ['manager'], body: registerReaderBody, idempotent: true },
  { method: 'get', path: '/v1/pos/readers/{readerId}/payments/{actionId}', summary: 'POS: one reader payment', roles: ['cashier', 'manager'], params: ['readerId', 'actionId'] },
  { method: 'post', path: '/v1/pos/readers/{readerId}/payments/{actionId}/capture', summary: 'POS: capture an authorised reader payment (its whole total; an item taken off is refunded after)', roles: ['cashier', 'manager'], body: captureBody, params: ['readerId', 'actionId'], status: '200', accepted: 'Capture requested, not done yet: payments has not seen the authorisation; terminal keeps trying, follow the reader payment (`capture.status`)' },
  { method: 'post', path: '/v1/pos/readers/{readerId}/cancel-action', summary: "POS: cancel what the reader is doing", roles: ['cashier', 'manager'], params: ['readerId'], status: '200' },
  { method: 'post', path: '/v1/pos/connection-tokens', summary: "POS: Terminal SDK connection token scoped to the store's location", roles: ['cashier', 'manager'] },
  { method: 'post', path: '/v1/admin/stores', summary: 'Admin: open a store (a Terminal location)', roles: ['admin'], body: storeBody },
  { method: 'get', path: '/v1/finance/reconciliation', summary: 'Reconciliation entries (gross, fee, net per charge, refund, dispute), paged', roles: ['finance', 'admin'], query: entriesQuery },
  {
    method: 'get',
    path: '/v1/finance/reconciliation/summary',
    summary: "A UTC day's totals (entries, gross, fee, net) per currency and per kind",
    roles: ['finance', 'admin'],
    query: summaryQuery,
  },
  {
    method: 'post',
    path: '/v1/finance/reconciliation/audits',
    summary:
      "Audit a UTC day's entries against the balance transactions Stripe lists for it (missing, unexpected, different entries, orders paid twice); 202, runs in the background. Yesterday's runs daily by itself",
    roles: ['finance', 'admin'],
    body: auditBody,
    status: '202',
  },
  {
    method: 'get',
    path: '/v1/finance/reconciliation/audits/{day}',
    summary: "A day's audit: status (requested, running, done, failed), outcome (clean, pending, mismatches), totals per currency on both sides, problems and their first lines",
    roles: ['finance', 'admin'],
    params: ['day'],
  },
  {
    method: 'get',
    path: '/v1/finance/payouts',
    summary: "Stripe payouts (bank deposits), newest arrival first, each with its reconciliation: outcome (balanced, mismatches, not_attributable), the platform's lines by kind, the account's other lines by type, the difference",
    roles: ['finance', 'admin'],
    query: payoutsQuery,
  },
  { method: 'get', path: '/v1/finance/payouts/{payoutId}', summary: 'One payout and its reconciliation', roles: ['finance', 'admin'], params: ['payoutId'] },
  {
    method: 'get',
    path: '/v1/finance/payouts/{payoutId}/lines',
    summary:
      "The balance transactions a payout paid out, paged, each with the entry (order, channel, store) that names it, or null. Kept a while after the payout's reconciliation (payments' PAYOUT_LINES_RETENTION_DAYS, 400 by default), then 410 payout_lines_expired: the payout and its result stay",
    roles: ['finance', 'admin'],
    params: ['payoutId'],
    query: payoutLinesQuery,
  },
];

export const successStatus = (r: Route): string => r.status ?? (r.method === 'post' ? '201' : '200');

/** What the gateway serves besides the client API: probes, metrics and these documents. */
export const operationalRoutes: { method: 'get'; path: string }[] = [
  '/health',
  '/health/live',
  '/health/ready',
  '/metrics',
  '/openapi.json',
  '/docs',
].map((path) => ({ method: 'get', path }));

const error = { $ref: '#/components/schemas/Error' };

export function buildOpenApi(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const failure = (description: string) => ({ description, content: { 'application/json': { schema: error } } });
    const responses: Record<string, unknown> = {
      [successStatus(r)]: {
        description: 'OK',
        ...(r.response ? { content: { 'application/json': { schema: zodToJsonSchema(r.response as z.ZodType, { target: 'openApi3' }) } } } : {}),
      },
      ...(r.accepted ? { '202': { description: r.accepted } } : {}),
      '400': failure('Invalid request: `issues` names each bad field'),
      ...(r.roles === 'public'
        ? {}
        : {
            '401': failure('Missing or invalid bearer token'),
            '403': failure('Role not allowed'),
            '404': failure("Not found, or someone else's"),
          }),
      ...(r.method === 'post'
        ? {
            '409': failure('Conflicts with the state of the object, or the Idempotency-Key is in use by a request still running'),
            '413': failure('Request body too large'),
            '422': failure('Valid, but refused: Stripe refused it, or the object cannot do it (`error` says which)'),
          }
        : {}),
      '429': failure('Rate limit exceeded (Retry-After)'),
      '502': failure('A service or Stripe failed; retry with the same Idempotency-Key'),
      '503': failure('Busy (Stripe rate-limiting, a hot row, a dependency restarting): retry after Retry-After seconds with the same Idempotency-Key'),
      '504': failure('A service did not answer in time'),
    };
    paths[r.path] ??= {};
    paths[r.path][r.method] = {
      summary: r.summary,
      ...(r.roles === 'public' ? { security: [] } : { description: `Roles: ${r.roles.join(', ')}` }),
      parameters: [
        ...(r.params ?? []).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
        ...Object.entries((r.query?.shape ?? {}) as Record<string, z.ZodTypeAny>).map(([name, field]) => ({
          name,
          in: 'query',
          required: !field.isOptional(),
          schema: zodToJsonSchema((field instanceof z.ZodOptional ? field.unwrap() : field) as z.ZodType, { target: 'openApi3' }),
        })),
        ...(r.idempotent
          ? [{ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,255}$' } }]
          : []),
      ],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: zodToJsonSchema(r.body as z.ZodType, { target: 'openApi3' }) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.0.3',
    info: { title: 'omnipay gateway', version: '1.0.0', description: 'The one public API for app, web and POS clients.' },
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            'HS256 JWT with sub, role (customer, cashier, manager, finance, admin), storeId for store staff, channel, ' +
            'iat, exp, optional nbf, and the iss and aud this gateway is configured to accept (JWT_ISSUER, JWT_AUDIENCE).',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          description: 'Every error answer of the API. Branch on `error`, a stable snake_case code.',
          required: ['statusCode', 'error', 'message'],
          properties: {
            statusCode: { type: 'integer' },
            error: { type: 'string', pattern: '^[a-z0-9_]+$' },
            message: { type: 'string' },
            issues: {
              type: 'array',
              items: { type: 'object', required: ['path', 'message'], properties: { path: { type: 'string' }, message: { type: 'string' } } },
            },
            details: { description: 'what else the code comes with (the SKUs out of stock, the decline code, …)' },
          },
        },
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
