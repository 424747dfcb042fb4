import { publicError } from './public-error';

describe('publicError', () => {
  it("flattens a service's { error: { code, message, details } }, a field list becoming issues", () => {
    expect(publicError(409, { error: { code: 'out_of_stock', message: 'no', details: { skus: ['A'] } } })).toEqual({
      statusCode: 409,
      error: 'out_of_stock',
      message: 'no',
      details: { skus: ['A'] },
    });
    expect(publicError(400, { error: { code: 'invalid_request', message: 'bad', details: [{ field: 'lines.0.sku', message: 'required' }] } })).toEqual({
      statusCode: 400,
      error: 'invalid_request',
      message: 'bad',
      issues: [{ path: 'lines.0.sku', message: 'required' }],
    });
  });

  it("turns Nest's reason phrases into codes and keeps the gateway's own codes and extra fields", () => {
    expect(publicError(404, { statusCode: 404, error: 'Not Found', message: 'Cannot GET /x' })).toEqual({
      statusCode: 404,
      error: 'not_found',
      message: 'Cannot GET /x',
    });
    expect(publicError(400, { statusCode: 400, error: 'client_price_rejected', message: 'remove it', fields: ['amount'] })).toEqual({
      statusCode: 400,
      error: 'client_price_rejected',
      message: 'remove it',
      details: { fields: ['amount'] },
    });
    // The orders service's flat body keeps its details where they were.
    expect(publicError(409, { error: 'out_of_stock', message: 'no', details: { skus: ['HOODIE'], locationId: 'online_fc' } })).toEqual({
      statusCode: 409,
      error: 'out_of_stock',
      message: 'no',
      details: { skus: ['HOODIE'], locationId: 'online_fc' },
    });
    expect(publicError(400, { error: 'invalid_request', message: 'lines: required', details: { issues: [{ path: 'lines', message: 'required' }] } })).toEqual({
      statusCode: 400,
      error: 'invalid_request',
      message: 'lines: required',
      issues: [{ path: 'lines', message: 'required' }],
    });
    expect(publicError(502, 'payments is unavailable')).toEqual({ statusCode: 502, error: 'bad_gateway', message: 'payments is unavailable' });
    expect(publicError(500, undefined)).toEqual({ statusCode: 500, error: 'internal_server_error', message: 'Internal Server Error' });
  });
});
