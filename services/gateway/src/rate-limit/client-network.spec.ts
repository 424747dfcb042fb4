import { clientNetwork } from './client-network';

describe('the network a client address is rate-limited as', () => {
  it('is an IPv4 address itself, also written IPv4-mapped', () => {
    expect(clientNetwork('203.0.113.7')).toBe('203.0.113.7');
    expect(clientNetwork('::ffff:203.0.113.7')).toBe('203.0.113.7');
  });

  it("is an IPv6 address's /64, however the address is written", () => {
    const net = '2001:db8:aa:bb::/64';
    expect(clientNetwork('2001:db8:aa:bb::1')).toBe(net);
    expect(clientNetwork('2001:0db8:00aa:00bb:1234:5678:9abc:def0')).toBe(net);
    expect(clientNetwork('2001:DB8:AA:BB:ffff::')).toBe(net);
    expect(clientNetwork('2001:db8:aa:bc::1')).not.toBe(net);
    expect(clientNetwork('::1')).toBe('0:0:0:0::/64');
    expect(clientNetwork('fe80::1')).toBe('fe80:0:0:0::/64');
  });

  it('names a missing address', () => {
    expect(clientNetwork(undefined)).toBe('unknown');
  });
});
