import { OriginPolicy } from '../../src/common/origin-policy';

describe('OriginPolicy', () => {
  const policy = new OriginPolicy(['http://localhost:3000', 'http://192.168.1.0/24']);

  it('allows requests without an Origin header (agents, curl)', () => {
    expect(policy.allows(undefined)).toBe(true);
    expect(policy.allows('')).toBe(true);
  });

  it('allows an exactly listed origin, whatever the case of its host', () => {
    expect(policy.allows('http://localhost:3000')).toBe(true);
    expect(policy.allows('http://LOCALHOST:3000')).toBe(true);
  });

  it('refuses the listed host on another port or scheme', () => {
    expect(policy.allows('http://localhost:3001')).toBe(false);
    expect(policy.allows('https://localhost:3000')).toBe(false);
    expect(policy.allows('http://localhost')).toBe(false);
  });

  it('admits any host and port inside a CIDR entry, with the entry scheme', () => {
    expect(policy.allows('http://192.168.1.77:8080')).toBe(true);
    expect(policy.allows('http://192.168.1.1')).toBe(true);
    expect(policy.allows('http://192.168.1.255:3000')).toBe(true);
  });

  it('refuses hosts outside the CIDR range, or with another scheme', () => {
    expect(policy.allows('http://192.168.2.1')).toBe(false);
    expect(policy.allows('http://10.0.0.1:8080')).toBe(false);
    expect(policy.allows('https://192.168.1.77')).toBe(false);
  });

  it('does not let a host name that merely starts like an address in the range pass', () => {
    expect(policy.allows('http://192.168.1.77.evil.com')).toBe(false);
  });

  it('refuses unknown, opaque and malformed origins', () => {
    expect(policy.allows('http://evil.com')).toBe(false);
    expect(policy.allows('null')).toBe(false);
    expect(policy.allows('file:///etc/passwd')).toBe(false);
    expect(policy.allows('not a url')).toBe(false);
  });

  it('honours narrow and wide prefixes', () => {
    const narrow = new OriginPolicy(['https://10.1.2.3/32']);
    expect(narrow.allows('https://10.1.2.3:443')).toBe(true);
    expect(narrow.allows('https://10.1.2.4')).toBe(false);
    const wide = new OriginPolicy(['http://10.0.0.0/8']);
    expect(wide.allows('http://10.200.3.4:9000')).toBe(true);
    expect(wide.allows('http://11.0.0.1')).toBe(false);
  });
});
