/** Stripe's error object and the exception that carries it through the request pipeline. */
export type StripeErrorType = 'api_error' | 'card_error' | 'idempotency_error' | 'invalid_request_error';

export interface StripeErrorBody {
  type: StripeErrorType;
  code?: string;
  decline_code?: string;
  message: string;
  param?: string;
  doc_url?: string;
  payment_intent?: unknown;
  setup_intent?: unknown;
  charge?: string;
  payment_method?: unknown;
  advice_code?: string;
  [k: string]: unknown;
}

export class StripeApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly body: StripeErrorBody,
    public readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }

  /** Whether the idempotency layer may store this response (validation errors are not stored, per Stripe). */
  get storable(): boolean {
    if (this.status === 409 || this.status === 401 || this.status === 429) return false;
    if (this.status === 400 && this.body.code && this.body.code.startsWith('parameter_')) return false;
    return true;
  }
}

const doc = (code?: string) => (code ? `https://stripe.com/docs/error-codes/${code.replace(/_/g, '-')}` : undefined);

export function invalidRequest(message: string, opts: { param?: string; code?: string; status?: number } = {}): StripeApiError {
  const body: StripeErrorBody = { type: 'invalid_request_error', message };
  if (opts.code) body.code = opts.code;
  if (opts.param) body.param = opts.param;
  if (opts.code) body.doc_url = doc(opts.code);
  return new StripeApiError(opts.status ?? 400, body);
}

export function missingParam(param: string): StripeApiError {
  return invalidRequest(`Missing required param: ${param}.`, { param, code: 'parameter_missing' });
}

export function unknownParam(param: string): StripeApiError {
  return invalidRequest(`Received unknown parameter: ${param}`, { param, code: 'parameter_unknown' });
}

export function resourceMissing(kind: string, id: string, param = 'id'): StripeApiError {
  return invalidRequest(`No such ${kind}: '${id}'`, { param, code: 'resource_missing', status: 404 });
}

export function unexpectedState(kind: 'payment_intent' | 'setup_intent', message: string, object: unknown): StripeApiError {
  const err = invalidRequest(message, { code: `${kind}_unexpected_state` });
  err.body[kind] = object;
  return err;
}

export function apiError(status = 500, message = 'An unknown error occurred'): StripeApiError {
  return new StripeApiError(status, { type: 'api_error', message });
}

export function rateLimited(): StripeApiError {
  return new StripeApiError(429, {
    type: 'invalid_request_error',
    code: 'rate_limit',
    message: 'Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.',
    doc_url: doc('rate_limit'),
  });
}

export function idempotencyMismatch(key: string): StripeApiError {
  return new StripeApiError(400, {
    type: 'idempotency_error',
    message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
  });
}

export function idempotencyInUse(): StripeApiError {
  return new StripeApiError(409, {
    type: 'invalid_request_error',
    code: 'idempotency_key_in_use',
    message:
      'There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): please try again later.',
    doc_url: doc('idempotency_key_in_use'),
  });
}

export function cardError(
  message: string,
  code: string,
  extra: Partial<StripeErrorBody> & { decline_code?: string } = {},
): StripeApiError {
  return new StripeApiError(402, { type: 'card_error', code, message, doc_url: doc(code), ...extra });
}
