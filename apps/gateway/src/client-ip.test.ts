import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { addressKey, clientAddress, unknownClientAddress } from './client-ip.js';

describe('addressKey', () => {
  it('keeps IPv4, unwraps IPv4-mapped IPv6, and reduces IPv6 to its /64', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:DB8:0001:0002::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('::1');
    expect(addressKey(unknownClientAddress)).toBe(unknownClientAddress);
  });
});

describe('clientAddress', () => {
  const app = new Hono();
  app.get('/:hops', (c) => c.text(clientAddress(c, Number(c.req.param('hops')))));
  const ask = async (hops: number, forwardedFor?: string) =>
    (
      await app.request(`/${hops}`, { headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } })
    ).text();

  it('uses the socket address (unknown without a socket) and ignores X-Forwarded-For with 0 hops', async () => {
    expect(await ask(0)).toBe(unknownClientAddress);
    expect(await ask(0, '198.51.100.1')).toBe(unknownClientAddress);
  });

  it('takes the entry the outermost trusted proxy appended', async () => {
    expect(await ask(1, '198.51.100.1')).toBe('198.51.100.1');
    expect(await ask(1, '10.9.9.9, 198.51.100.1')).toBe('198.51.100.1');
    expect(await ask(2, '198.51.100.1, 10.0.0.2')).toBe('198.51.100.1');
    // Fewer entries than hops: the farthest one known.
    expect(await ask(3, '198.51.100.1')).toBe('198.51.100.1');
    // Not an IP address: fall back to the socket.
    expect(await ask(1, 'evil')).toBe(unknownClientAddress);
  });
});
