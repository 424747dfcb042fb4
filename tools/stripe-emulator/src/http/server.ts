/**
 * HTTP pipeline: auth -> API faults -> params -> publishable-key rules -> idempotency -> validation ->
 * handler -> expand -> response. Admin routes (`/_emulator/…`) are handed to the admin module.
 */
import http from 'node:http';
import { newId } from '../ids';
import type { Emulator } from '../app';
import { apiError, invalidRequest, rateLimited, StripeApiError } from './errors';
import { FormParseError, parseForm, FormObject } from './form';
import { fingerprint, StoredResponse } from './idempotency';
import { validate } from './params';
import { applyExpand } from './expand';
import type { HttpMethod, RequestContext } from './router';
import { handleAdmin } from '../admin/routes';

export type LogFn = (line: Record<string, unknown>) => void;

const MAX_BODY = 1 << 20;

export function createServer(emu: Emulator, log: LogFn | null): http.Server {
  return http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    const requestId = newId('req', 14);
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q === -1 ? url : url.slice(0, q);
      const query = q === -1 ? '' : url.slice(q + 1);
      const done = (status: number) => {
        if (log) {
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          log({ time: new Date().toISOString(), request_id: requestId, method: req.method, path, status, ms: Math.round(ms * 10) / 10 });
        }
      };
      const run = async () => {
        if (tooLarge) return send(res, 413, { error: { type: 'invalid_request_error', message: 'Request body too large.' } }, requestId, {});
        if (path.startsWith('/_emulator')) return handleAdmin(emu, req, res, path, query, body);
        return handleApi(emu, req, res, requestId, path, query, body);
      };
      run()
        .then((status) => done(status))
        .catch((e) => {
          process.stderr.write(`stripe-emulator: internal error: ${(e as Error).stack}\n`);
          if (!res.headersSent) send(res, 500, { error: { type: 'api_error', message: 'Internal emulator error.' } }, requestId, {});
          done(500);
        });
    });
  });
}

export function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  requestId: string,
  headers: Record<string, string>,
): number {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    'Request-Id': requestId,
    'Access-Control-Allow-Origin': '*',
    'Cache-Control': 'no-cache, no-store',
    ...headers,
  });
  res.end(text);
  return status;
}

function maskKey(key: string): string {
  const u = key.lastIndexOf('_');
  const prefix = u > 0 ? key.slice(0, u + 1) : '';
  return `${prefix}${'*'.repeat(Math.max(4, key.length - prefix.length - 4)).slice(0, 20)}${key.slice(-4)}`;
}

function authenticate(emu: Emulator, header: string | undefined): 'secret' | 'publishable' | 'events_read' | StripeApiError {
  let key: string | null = null;
  if (header?.startsWith('Bearer ')) key = header.slice(7).trim();
  else if (header?.startsWith('Basic ')) {
    key = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':')[0] ?? null;
  }
  if (!key) {
    return new StripeApiError(401, {
      type: 'invalid_request_error',
      message:
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    });
  }
  if (key === emu.config.secretKey) return 'secret';
  if (key === emu.config.publishableKey) return 'publishable';
  if (key === emu.config.eventsReadKey) return 'events_read';
  return new StripeApiError(401, {
    type: 'invalid_request_error',
    code: 'api_key_invalid',
    message: `Invalid API Key provided: ${maskKey(key)}`,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function handleApi(
  emu: Emulator,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  requestId: string,
  path: string,
  query: string,
  body: string,
): Promise<number> {
  const method = (req.method ?? 'GET').toUpperCase();
  const versionHeader = (req.headers['stripe-version'] as string | undefined) ?? null;
  const idemHeader = (req.headers['idempotency-key'] as string | undefined) ?? null;
  const baseHeaders: Record<string, string> = { 'Stripe-Version': versionHeader ?? emu.config.apiVersion };
  if (idemHeader) baseHeaders['Idempotency-Key'] = idemHeader;
  const fail = (e: StripeApiError) => send(res, e.status, { error: e.body }, requestId, { ...baseHeaders, ...e.headers });

  const match = method === 'GET' || method === 'POST' || method === 'DELETE' ? emu.router.match(method, path) : null;
  if (!match) {
    return fail(
      invalidRequest(`Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`, {
        status: 404,
      }),
    );
  }
  const auth = authenticate(emu, req.headers.authorization);
  if (auth instanceof StripeApiError) return fail(auth);


  let raw: FormObject;
  try {
    raw = parseForm(method === 'POST' ? body : query);
  } catch (e) {
    if (e instanceof FormParseError) return fail(invalidRequest(e.message));
    throw e;
  }

  if (auth === 'events_read' && !(method === 'GET' && (path === '/v1/events' || path.startsWith('/v1/events/')))) {
    return fail(
      new StripeApiError(403, {
        type: 'invalid_request_error',
        code: 'secret_key_required',
        message: `The provided key '${maskKey(emu.config.eventsReadKey)}' does not have the required permissions for this endpoint on account 'acct_emulator'. Having the 'rak_event_read' permission would allow this request to continue.`,
      }),
    );
  }

  if (auth === 'publishable' && !match.def.publishable) {
    return fail(
      new StripeApiError(401, {
        type: 'invalid_request_error',
        message:
          'This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.',
      }),
    );
  }

  // idempotency (POST only, scoped per API key)
  const idemKey = method === 'POST' && idemHeader ? idemHeader : null;
  const scope = auth;
  if (idemKey) {
    if (idemKey.length > 255) return fail(invalidRequest('Idempotency-Key must be at most 255 characters long.', { param: 'Idempotency-Key' }));
    const found = emu.idempotency.begin(scope, idemKey, fingerprint(method, path, body));
    if (found.kind === 'mismatch') {
      const e = new StripeApiError(400, {
        type: 'idempotency_error',
        message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${idemKey}' if you meant to execute a different request.`,
      });
      return fail(e);
    }
    if (found.kind === 'in_flight') {
      const e = new StripeApiError(409, {
        type: 'invalid_request_error',
        code: 'idempotency_key_in_use',
        message:
          'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): please try again later.',
      });
      return fail(e);
    }
    if (found.kind === 'replay') {
      return send(res, found.response.status, found.response.body, requestId, {
        ...found.response.headers,
        ...baseHeaders,
        'Idempotent-Replayed': 'true',
        'Original-Request': found.response.headers['Original-Request'] ?? '',
      });
    }
  }

  // fault switches: the delay runs while the idempotency key is held (so a concurrent retry gets 409);
  // an injected status is answered without running the request; a refusal (400) is stored under the key like any
  // refusal Stripe makes once a request runs (a retry with the key gets it again), a 429 or 5xx is not;
  // `ambiguous` is applied after the handler.
  const fault = emu.faults.matchApi(method, path);
  if (fault?.delay_ms) await sleep(fault.delay_ms);
  if (fault?.status && !fault.ambiguous) {
    const e =
      fault.status === 429
        ? rateLimited()
        : fault.status === 400
          ? invalidRequest(`The request was refused (${fault.code ?? 'invalid_request'}, injected by the emulator).`, { code: fault.code })
          : apiError(fault.status, 'An unknown error occurred (injected by the emulator).');
    if (idemKey) {
      if (e.status === 400 && e.storable) {
        const stored: StoredResponse = { status: e.status, body: JSON.stringify({ error: e.body }), headers: { 'Original-Request': requestId } };
        emu.idempotency.complete(scope, idemKey, stored);
      } else emu.idempotency.abandon(scope, idemKey);
    }
    return fail(e);
  }

  const ctx: RequestContext = {
    requestId,
    idempotencyKey: idemKey,
    auth,
    stripeVersionHeader: versionHeader,
    method: method as HttpMethod,
    path,
    pathParams: match.pathParams,
    params: {},
  };

  let status: number;
  let payload: unknown;
  let storable = true;
  try {
    ctx.params = validate(match.def.spec, raw);
    const result = await match.def.handler(ctx);
    payload = applyExpand(result, ctx.params.expand as string[] | undefined, (id) => emu.store.lookup(id));
    status = 200;
  } catch (e) {
    if (!(e instanceof StripeApiError)) throw e;
    status = e.status;
    payload = { error: e.body };
    storable = e.storable;
    Object.assign(baseHeaders, e.headers);
  }
  const text = JSON.stringify(payload);
  if (idemKey) {
    if (storable) {
      const stored: StoredResponse = { status, body: text, headers: { 'Original-Request': requestId } };
      emu.idempotency.complete(scope, idemKey, stored);
    } else emu.idempotency.abandon(scope, idemKey);
  }
  if (fault?.ambiguous) {
    // the write happened (and is replayable with the same Idempotency-Key) but the caller sees a 500
    return fail(apiError(fault.status && fault.status >= 500 ? fault.status : 500, 'An unknown error occurred (injected by the emulator after the request was processed).'));
  }
  return send(res, status, text, requestId, baseHeaders);
}
