import { dataSourceOptions } from './data-source';

const settings = { schema: 'svc_payments', poolSize: 4, entities: [], migrations: [] };
const pool = (url: string) => {
  const o = dataSourceOptions({ ...settings, url }) as { url: string; extra: { options: string } };
  return { url: o.url, options: o.extra.options };
};

describe('data source options', () => {
  it("keeps the service's search_path when DATABASE_URL carries server settings of its own", () => {
    const { url, options } = pool('postgres://u:p@db:5432/omnipay?options=-c%20deadlock_timeout%3D5s&sslmode=disable');
    // pg lets the URL's parameters win over the pool's: left there, they would replace the search_path.
    expect(url).not.toContain('options');
    expect(url).toContain('sslmode=disable');
    expect(options).toBe('-c deadlock_timeout=5s -c search_path=svc_payments');
  });

  it('sets only the search_path when the URL has no options', () => {
    expect(pool('postgres://u:p@db:5432/omnipay')).toEqual({ url: 'postgres://u:p@db:5432/omnipay', options: '-c search_path=svc_payments' });
  });
});
