import { NotFoundException, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import { AdminTokenGuard, MetricsTokenGuard } from './admin-token.guard';

const TOKEN = 'metrics-token-of-enough-length';
const request = (authorization?: string) =>
  ({ switchToHttp: () => ({ getRequest: () => ({ headers: authorization === undefined ? {} : { authorization } }) }) }) as ExecutionContext;

describe('MetricsTokenGuard', () => {
  it('lets every scrape through while METRICS_TOKEN is unset', () => {
    expect(new MetricsTokenGuard({}).canActivate(request())).toBe(true);
  });

  it('asks for the bearer token once METRICS_TOKEN is set, and refuses any other', () => {
    const guard = new MetricsTokenGuard({ METRICS_TOKEN: TOKEN });
    expect(guard.canActivate(request(`Bearer ${TOKEN}`))).toBe(true);
    for (const header of [undefined, '', TOKEN, `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, 'Bearer other-token-of-enough-length'])
      expect(() => guard.canActivate(request(header))).toThrow(UnauthorizedException);
  });
});

describe('AdminTokenGuard', () => {
  it('hides the operator routes (404) while ADMIN_TOKEN is unset, and asks for the bearer token once it is set', () => {
    expect(() => new AdminTokenGuard({}).canActivate(request(`Bearer ${TOKEN}`))).toThrow(NotFoundException);
    const guard = new AdminTokenGuard({ ADMIN_TOKEN: TOKEN });
    expect(guard.canActivate(request(`Bearer ${TOKEN}`))).toBe(true);
    expect(() => guard.canActivate(request('Bearer wrong-token-of-enough-length'))).toThrow(UnauthorizedException);
  });
});
