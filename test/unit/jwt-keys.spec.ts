import { JwtKeyRing, keyId } from '../../src/auth/jwt-keys';

const CURRENT = 'current-secret-0123456789abcdefghijklmnop';
const PREVIOUS = 'previous-secret-0123456789abcdefghijklmno';

describe('JwtKeyRing', () => {
  it('signs with the current secret under a kid derived from it', () => {
    const ring = new JwtKeyRing(CURRENT);
    expect(ring.signing).toMatchObject({ kid: keyId(CURRENT), secret: CURRENT });
    expect(ring.find(ring.signing.kid)).toBe(ring.signing);
  });

  it('still finds the old key by its kid during a rotation, but never signs with it', () => {
    const ring = new JwtKeyRing(CURRENT, PREVIOUS);
    expect(ring.signing.secret).toBe(CURRENT);
    expect(ring.find(keyId(PREVIOUS))).toMatchObject({ kid: keyId(PREVIOUS), secret: PREVIOUS });
    expect(ring.find(keyId(CURRENT))?.secret).toBe(CURRENT);
  });

  it('forgets the old key once JWT_SECRET_OLD is removed', () => {
    const ring = new JwtKeyRing(CURRENT);
    expect(ring.find(keyId(PREVIOUS))).toBeUndefined();
  });

  it('finds nothing for unknown, missing or non-string kids', () => {
    const ring = new JwtKeyRing(CURRENT, PREVIOUS);
    for (const kid of [undefined, null, 42, {}, '', 'unknown', '__proto__', 'constructor']) {
      expect(ring.find(kid)).toBeUndefined();
    }
  });

  it('derives short, stable kids that differ per secret and do not contain the secret', () => {
    expect(keyId(CURRENT)).toBe(keyId(CURRENT));
    expect(keyId(CURRENT)).not.toBe(keyId(PREVIOUS));
    expect(keyId(CURRENT)).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(CURRENT).not.toContain(keyId(CURRENT));
  });
});
