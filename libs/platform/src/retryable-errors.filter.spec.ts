import type { ArgumentsHost, HttpServer } from '@nestjs/common';
import { JsonLogger, createLogger } from '@omnipay/observability';
import { conflict } from './api-error';
import { RetryableErrorsFilter } from './retryable-errors.filter';

function setup() {
  const replies: { status: number; body: unknown }[] = [];
  const adapter = {
    reply: (_res: unknown, body: unknown, status: number) => replies.push({ status, body }),
    isHeadersSent: () => false,
    end: () => undefined,
  } as unknown as HttpServer;
  const logger = new JsonLogger(createLogger('test', 'silent'));
  const errors = jest.spyOn(logger.pino, 'error');
  const res = { headersSent: false, setHeader: () => res };
  const req = { method: 'POST', path: '/payments', route: { path: '/payments' } };
  const host = {
    getType: () => 'http',
    switchToHttp: () => ({ getResponse: () => res, getRequest: () => req }),
    getArgByIndex: (i: number) => (i === 0 ? req : res),
    getArgs: () => [req, res],
  } as unknown as ArgumentsHost;
  return { filter: new RetryableErrorsFilter(adapter, logger), host, replies, errors };
}

describe('RetryableErrorsFilter', () => {
  it('answers a refusal that is our own bug as it is and logs it at error level', () => {
    const { filter, host, replies, errors } = setup();
    const bug = conflict('idempotency_conflict', 'Keys for idempotent requests can only be used with the same parameters');
    bug.ourBug = true;
    filter.catch(bug, host);
    expect(replies.map((r) => r.status)).toEqual([409]);
    expect(errors).toHaveBeenCalledTimes(1);
    expect(errors.mock.calls[0]).toEqual([
      expect.objectContaining({ status: 409, code: 'idempotency_conflict', method: 'POST', route: '/payments' }),
      expect.stringContaining('a bug of ours'),
    ]);
  });

  it("logs no error for a refusal that is the caller's", () => {
    const { filter, host, replies, errors } = setup();
    filter.catch(conflict('order_cancelled', 'order o_1 was cancelled'), host);
    expect(replies.map((r) => r.status)).toEqual([409]);
    expect(errors).not.toHaveBeenCalled();
  });
});
