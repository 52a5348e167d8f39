import { ConfigError, loadConfig } from '../../src/config/app-config';

const STRONG_SECRET = 'a-production-secret-of-more-than-32-bytes!';

/** The ConfigError loadConfig throws for this environment (fails the test if it does not throw). */
function configErrorFor(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

const problemsFor = (env: Record<string, string>): string[] => configErrorFor(env).problems;

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      nodeEnv: 'development',
      port: 3000,
      host: '0.0.0.0',
      databaseUrl: undefined,
      dataDir: './.agenthub',
      jwt: { ttlSeconds: 900 },
      allowedOrigins: ['http://localhost:3000'],
      trustedProxies: [],
      enableHsts: false,
      rateLimits: { restAnon: 100, restAuth: 600, wsEventsPerSecond: 30 },
      maxMessageBytes: 16_384,
      messageBatchWindowMs: 2,
      bodyLimit: 1_048_576,
      shutdownTimeoutSeconds: 10,
      logLevel: 'info',
    });
  });

  it('reads a valid production environment', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      JWT_SECRET: STRONG_SECRET,
      PORT: '8080',
      DATABASE_URL: 'postgres://agenthub:pw@db:5432/agenthub',
      ALLOWED_ORIGINS: 'http://localhost:3000, http://192.168.1.0/24',
      ENABLE_HSTS: 'true',
    });
    expect(config).toMatchObject({
      nodeEnv: 'production',
      port: 8080,
      databaseUrl: 'postgres://agenthub:pw@db:5432/agenthub',
      allowedOrigins: ['http://localhost:3000', 'http://192.168.1.0/24'],
      enableHsts: true,
      jwt: { secret: STRONG_SECRET },
    });
  });

  it('accepts a DATABASE_URL over a Unix socket (the host is the socket folder, percent-encoded)', () => {
    const url = 'postgres://agenthub:pw@%2Fvar%2Frun%2Fpostgresql:5432/agenthub';
    expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
  });

  it.each<[string, Record<string, string>, string]>([
    ['a non-numeric PORT', { PORT: 'abc' }, 'PORT'],
    ['a PORT out of range', { PORT: '70000' }, 'PORT'],
    ['JWT_TTL=0', { JWT_TTL: '0' }, 'JWT_TTL'],
    ['a negative RATE_LIMIT_REST_ANON', { RATE_LIMIT_REST_ANON: '-1' }, 'RATE_LIMIT_REST_ANON'],
    [
      'MESSAGE_BATCH_WINDOW_MS over 50',
      { MESSAGE_BATCH_WINDOW_MS: '51' },
      'MESSAGE_BATCH_WINDOW_MS',
    ],
    ['a mysql DATABASE_URL', { DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [
      'an ALLOWED_ORIGINS entry that is not a URL',
      { ALLOWED_ORIGINS: 'not-a-url' },
      'ALLOWED_ORIGINS',
    ],
    ['a malformed ADMIN_API_TOKEN', { ADMIN_API_TOKEN: 'bad' }, 'ADMIN_API_TOKEN'],
    ['an unknown NODE_ENV', { NODE_ENV: 'staging' }, 'NODE_ENV'],
    ['a non-boolean ENABLE_HSTS', { ENABLE_HSTS: 'maybe' }, 'ENABLE_HSTS'],
    [
      'a TRUSTED_PROXIES entry that is not an IP',
      { TRUSTED_PROXIES: 'proxy.local' },
      'TRUSTED_PROXIES',
    ],
    ['NODE_ENV=production without JWT_SECRET', { NODE_ENV: 'production' }, 'JWT_SECRET'],
    [
      'NODE_ENV=production with a 10-byte JWT_SECRET',
      { NODE_ENV: 'production', JWT_SECRET: '0123456789' },
      'JWT_SECRET',
    ],
    [
      'NODE_ENV=production with a short JWT_SECRET_OLD',
      { NODE_ENV: 'production', JWT_SECRET: STRONG_SECRET, JWT_SECRET_OLD: 'short' },
      'JWT_SECRET_OLD',
    ],
  ])('refuses %s with a ConfigError naming %s', (_name, env, variable) => {
    const problems = problemsFor(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(variable);
  });

  it('accepts a short JWT_SECRET in development only', () => {
    expect(loadConfig({ JWT_SECRET: 'dev' }).jwt.secret).toBe('dev');
    expect(problemsFor({ NODE_ENV: 'test', JWT_SECRET: 'dev' })[0]).toContain('JWT_SECRET');
  });

  it('reports every bad variable at once, in one message', () => {
    const error = configErrorFor({ PORT: 'abc', JWT_TTL: '0', DATABASE_URL: 'mysql://x' });
    expect(error.problems).toHaveLength(3);
    for (const variable of ['PORT', 'JWT_TTL', 'DATABASE_URL']) {
      expect(error.message).toContain(variable);
    }
  });

  it('never puts a secret value into its error message', () => {
    const secret = 'tooshort-secret';
    const { message } = configErrorFor({ NODE_ENV: 'production', JWT_SECRET: secret });
    expect(message).toContain('JWT_SECRET');
    expect(message).not.toContain(secret);
  });
});
