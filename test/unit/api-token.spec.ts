import {
  API_TOKEN_PATTERN,
  apiTokenPrefix,
  generateApiToken,
  hashApiToken,
} from '../../src/auth/api-token';

describe('API tokens', () => {
  it('look like ahp_ followed by 43 base62 characters', () => {
    for (let i = 0; i < 200; i += 1) {
      expect(generateApiToken()).toMatch(/^ahp_[0-9A-Za-z]{43}$/);
    }
  });

  it('match the pattern the auth service checks', () => {
    expect(API_TOKEN_PATTERN.test(generateApiToken())).toBe(true);
  });

  it('never repeat', () => {
    const tokens = new Set(Array.from({ length: 5000 }, () => generateApiToken()));
    expect(tokens.size).toBe(5000);
  });

  it('draw from the whole base62 alphabet', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i += 1) for (const c of generateApiToken().slice(4)) seen.add(c);
    expect(seen.size).toBe(62);
  });

  it('are stored as a 32-byte SHA-256 digest, identical for the same token', () => {
    const token = generateApiToken();
    expect(hashApiToken(token)).toHaveLength(32);
    expect(hashApiToken(token).equals(hashApiToken(token))).toBe(true);
    expect(hashApiToken(token).equals(hashApiToken(generateApiToken()))).toBe(false);
  });

  it('are displayed by a prefix far too short to use', () => {
    const token = generateApiToken();
    expect(apiTokenPrefix(token)).toBe(token.slice(0, 10));
    expect(apiTokenPrefix(token).startsWith('ahp_')).toBe(true);
  });
});
