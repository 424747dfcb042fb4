import type { ExecutionContext } from '@nestjs/common';
import { ConfigValidationError } from '@omnipay/config';
import { ServiceTokenGuard, serviceAuthorization } from './service-token';

const TOKEN = 'svc-token-0123456789abcdef';
const OLD = 'svc-token-old-0123456789ab';

function request(path: string, authorization?: string): ExecutionContext {
  const req = { path, headers: authorization ? { authorization } : {} };
  return { getType: () => 'http', switchToHttp: () => ({ getRequest: () => req }) } as unknown as ExecutionContext;
}

const answer = (guard: ServiceTokenGuard, ctx: ExecutionContext) => {
  try {
    return guard.canActivate(ctx) ? 'allowed' : 'refused';
  } catch (error) {
    const e = error as { getStatus(): number; code: string };
    return `${e.getStatus()} ${e.code}`;
  }
};

describe('internal API service token', () => {
  const guard = new ServiceTokenGuard({ NODE_ENV: 'production', SERVICE_TOKEN: [TOKEN, OLD] });

  it('answers only a caller holding one of the tokens (the new or, during a rotation, the old)', () => {
    expect(answer(guard, request('/payments/pay_1/refunds', `Bearer ${TOKEN}`))).toBe('allowed');
    expect(answer(guard, request('/payments/pay_1/refunds', `Bearer ${OLD}`))).toBe('allowed');
    expect(answer(guard, request('/payments/pay_1/refunds'))).toBe('401 service_token_required');
    expect(answer(guard, request('/customers/c1/ephemeral-keys', `Bearer ${TOKEN}x`))).toBe('401 service_token_required');
    expect(answer(guard, request('/stores/s1/connection-tokens', TOKEN))).toBe('401 service_token_required');
  });

  it('leaves probes, metrics and admin routes to their own guards', () => {
    for (const path of ['/health/live', '/health/ready', '/health', '/metrics', '/admin/dead-letters', '/admin/dead-letters/redrive'])
      expect(answer(guard, request(path))).toBe('allowed');
    // Only those paths: a route that merely starts like one is an internal API route.
    expect(answer(guard, request('/healthz'))).toBe('401 service_token_required');
    expect(answer(guard, request('/administrators'))).toBe('401 service_token_required');
  });

  it('is open without a token in development and tests, and refuses to start without one in production', () => {
    expect(answer(new ServiceTokenGuard({ NODE_ENV: 'test', SERVICE_TOKEN: undefined }), request('/payments'))).toBe('allowed');
    expect(() => new ServiceTokenGuard({ NODE_ENV: 'production', SERVICE_TOKEN: undefined })).toThrow(ConfigValidationError);
    expect(() => serviceAuthorization({ NODE_ENV: 'production', SERVICE_TOKEN: undefined }, 'the gateway')).toThrow(/SERVICE_TOKEN: is required/);
  });

  it('is sent by callers as the first token of a rotation', () => {
    expect(serviceAuthorization({ NODE_ENV: 'production', SERVICE_TOKEN: [TOKEN, OLD] }, 'x')).toEqual({ authorization: `Bearer ${TOKEN}` });
    expect(serviceAuthorization({ NODE_ENV: 'development', SERVICE_TOKEN: undefined }, 'x')).toEqual({});
  });

  it('keeps every call accepted through the documented rotation, whichever services restart first', () => {
    const steps = [[OLD], [OLD, TOKEN], [TOKEN, OLD], [TOKEN]];
    for (let i = 0; i < steps.length; i++)
      for (const j of [i - 1, i, i + 1].filter((k) => k >= 0 && k < steps.length)) {
        const caller = serviceAuthorization({ NODE_ENV: 'production', SERVICE_TOKEN: steps[i] }, 'x').authorization;
        const server = new ServiceTokenGuard({ NODE_ENV: 'production', SERVICE_TOKEN: steps[j] });
        expect({ caller: i, server: j, answer: answer(server, request('/payments', caller)) }).toEqual({ caller: i, server: j, answer: 'allowed' });
      }
  });
});
