import { STATUS_CODES } from 'node:http';
import { HttpException } from '@nestjs/common';

/** A field the request got wrong. */
export interface Issue {
  path: string;
  message: string;
}

/**
 * The one error body of the public API (OpenAPI `Error`), whoever raised it: the gateway's own checks, Nest
 * (unknown route, body too large), or a service behind the gateway, whose internal body is
 * `{ error: { code, message, details } }`. Clients branch on `error`, a stable snake_case code.
 */
export interface PublicError {
  statusCode: number;
  error: string;
  message: string;
  /** the fields that were wrong (400) */
  issues?: Issue[];
  /** what else the code comes with (the SKUs out of stock, the decline code, the order's status) */
  details?: unknown;
}

/** `Not Found` → `not_found`: Nest's and Node's reason phrases as codes. */
const codeOf = (phrase: string) =>
  phrase
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');

const isIssueList = (v: unknown): v is { field?: unknown; path?: unknown; message?: unknown }[] =>
  Array.isArray(v) && v.every((i) => typeof i === 'object' && i !== null && 'message' in i && ('field' in i || 'path' in i));

const issuesOf = (v: { field?: unknown; path?: unknown; message?: unknown }[]): Issue[] =>
  v.map((i) => ({ path: String(i.path ?? i.field), message: String(i.message) }));

const text = (v: unknown): string | undefined =>
  typeof v === 'string' ? v : Array.isArray(v) && v.every((x) => typeof x === 'string') ? v.join('; ') : undefined;

export function publicError(status: number, body: unknown): PublicError {
  const fallback = { statusCode: status, error: codeOf(STATUS_CODES[status] ?? 'error'), message: STATUS_CODES[status] ?? 'error' };
  if (typeof body === 'string') return { ...fallback, message: body };
  if (typeof body !== 'object' || body === null) return fallback;
  const b = body as Record<string, unknown>;
  // A service's body: { error: { code, message, details } }.
  if (typeof b.error === 'object' && b.error !== null) {
    const e = b.error as { code?: unknown; message?: unknown; details?: unknown };
    const out: PublicError = {
      statusCode: status,
      error: typeof e.code === 'string' ? e.code : fallback.error,
      message: text(e.message) ?? fallback.message,
    };
    if (isIssueList(e.details)) out.issues = issuesOf(e.details);
    else if (e.details !== undefined) out.details = e.details;
    return out;
  }
  // A flat body: the gateway's own, the orders service's ({ error, message, details }), or Nest's
  // ({ statusCode, error: 'Not Found', message }).
  const { statusCode: _status, error, message, issues, details, ...rest } = b;
  const code = typeof error === 'string' ? (/^[a-z0-9_]+$/.test(error) ? error : codeOf(error)) : fallback.error;
  const out: PublicError = { statusCode: status, error: code, message: text(message) ?? fallback.message };
  // Field lists, wherever the body put them (orders puts its own under details.issues).
  const nested = (details as { issues?: unknown } | undefined)?.issues;
  const fieldList = isIssueList(issues) ? issues : isIssueList(details) ? details : isIssueList(nested) ? nested : undefined;
  if (fieldList) out.issues = issuesOf(fieldList);
  const extra = {
    ...(typeof details === 'object' && details !== null && !Array.isArray(details) ? details : {}),
    ...rest,
  } as Record<string, unknown>;
  if (fieldList === nested) delete extra.issues;
  if (Object.keys(extra).length > 0) out.details = extra;
  return out;
}

/** An error answer of the gateway's own, with its code (`publicError` gives it the public shape). */
export function apiError(status: number, code: string, message: string, details?: unknown): HttpException {
  return new HttpException({ error: code, message, ...(details === undefined ? {} : { details }) }, status);
}
