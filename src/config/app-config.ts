/** The whole environment, validated once at start-up (DESIGN.md "Configuration"). */
export type NodeEnv = 'development' | 'production' | 'test';

export interface AppConfig {
  nodeEnv: NodeEnv;
  port: number;
  host: string;
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string | undefined;
  /** Namespace of every Redis key and channel, so several hubs can share one Redis. */
  redisKeyPrefix: string;
  jwt: {
    /** Undefined only before the development secret is resolved (see resolveJwtSecrets). */
    secret: string | undefined;
    oldSecret: string | undefined;
    ttlSeconds: number;
  };
  adminApiToken: string | undefined;
  allowedOrigins: string[];
  trustedProxies: string[];
  enableHsts: boolean;
  rateLimits: {
    restAnon: number;
    restAuth: number;
    wsEventsPerSecond: number;
    wsSocketsPerAgent: number;
    wsHandshakesPerMinute: number;
  };
  maxMessageBytes: number;
  /** Group commit: how long dense sends may wait to share a statement (0: never wait). */
  messageBatchWindowMs: number;
  bodyLimit: number;
  shutdownTimeoutSeconds: number;
  logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const MIN_SECRET_BYTES = 32;

type Env = Record<string, string | undefined>;

class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      this.problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return Number(raw);
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['true', '1', 'yes'].includes(raw)) return true;
    if (['false', '0', 'no'].includes(raw)) return false;
    this.problems.push(`${name} must be true or false (got "${raw}")`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  }

  url(name: string, protocols: string[]): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
      return raw;
    } catch {
      this.problems.push(`${name} must be a ${protocols.join(' or ')}// URL`);
      return undefined;
    }
  }

  list(name: string, fallback: string[]): string[] {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    return raw
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0);
  }
}

const CIDR = /^(\d{1,3}(\.\d{1,3}){3})(\/\d{1,2})?$|^[0-9a-f:]+(\/\d{1,3})?$/i;
const API_TOKEN = /^ahp_[0-9A-Za-z]{43}$/;

/**
 * Parses and validates the environment. Throws a ConfigError naming every bad variable, so the
 * process stops before it binds a port or touches a database.
 */
export function loadConfig(env: Env = process.env): AppConfig {
  const read = new EnvReader(env);
  const nodeEnv = read.oneOf(
    'NODE_ENV',
    ['development', 'production', 'test'] as const,
    'development',
  );

  const secret = read.string('JWT_SECRET');
  const oldSecret = read.string('JWT_SECRET_OLD');
  if (nodeEnv !== 'development') {
    if (nodeEnv === 'production' && secret === undefined) {
      read.problems.push('JWT_SECRET is required when NODE_ENV=production');
    }
    for (const [name, value] of [
      ['JWT_SECRET', secret],
      ['JWT_SECRET_OLD', oldSecret],
    ] as const) {
      if (value !== undefined && Buffer.byteLength(value) < MIN_SECRET_BYTES) {
        read.problems.push(`${name} must be at least ${MIN_SECRET_BYTES} bytes`);
      }
    }
  }

  const adminApiToken = read.string('ADMIN_API_TOKEN');
  if (adminApiToken !== undefined && !API_TOKEN.test(adminApiToken)) {
    read.problems.push('ADMIN_API_TOKEN must be "ahp_" followed by 43 letters or digits');
  }

  const allowedOrigins = read.list('ALLOWED_ORIGINS', ['http://localhost:3000']);
  for (const origin of allowedOrigins) {
    if (!/^https?:\/\/[^/\s]+(\/\d{1,2})?$/.test(origin)) {
      read.problems.push(
        `ALLOWED_ORIGINS entry "${origin}" must look like http://host[:port] or http://a.b.c.d/nn`,
      );
    }
  }
  const trustedProxies = read.list('TRUSTED_PROXIES', []);
  for (const proxy of trustedProxies) {
    if (!CIDR.test(proxy))
      read.problems.push(`TRUSTED_PROXIES entry "${proxy}" is not an IP or CIDR`);
  }

  const config: AppConfig = {
    nodeEnv,
    port: read.int('PORT', 3000, 0, 65535),
    host: read.string('HOST') ?? '0.0.0.0',
    databaseUrl: read.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: read.string('AGENTHUB_DATA_DIR') ?? './.agenthub',
    redisUrl: read.url('REDIS_URL', ['redis:', 'rediss:']),
    redisKeyPrefix: read.string('REDIS_KEY_PREFIX') ?? 'agenthub:',
    jwt: { secret, oldSecret, ttlSeconds: read.int('JWT_TTL', 900, 30, 86_400) },
    adminApiToken,
    allowedOrigins,
    trustedProxies,
    enableHsts: read.bool('ENABLE_HSTS', false),
    rateLimits: {
      restAnon: read.int('RATE_LIMIT_REST_ANON', 100, 1, 1_000_000),
      restAuth: read.int('RATE_LIMIT_REST_AUTH', 600, 1, 1_000_000),
      wsEventsPerSecond: read.int('RATE_LIMIT_WS_EVENTS', 30, 1, 100_000),
      wsSocketsPerAgent: read.int('RATE_LIMIT_WS_SOCKETS_PER_AGENT', 20, 1, 100_000),
      wsHandshakesPerMinute: read.int('RATE_LIMIT_WS_HANDSHAKES', 60, 1, 1_000_000),
    },
    maxMessageBytes: read.int('MAX_MESSAGE_BYTES', 16_384, 1, 65_536),
    messageBatchWindowMs: read.int('MESSAGE_BATCH_WINDOW_MS', 2, 0, 50),
    bodyLimit: read.int('BODY_LIMIT', 1_048_576, 1024, 104_857_600),
    shutdownTimeoutSeconds: read.int('SHUTDOWN_TIMEOUT', 10, 1, 600),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
  };
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

/** Injection token for the validated AppConfig. */
export const APP_CONFIG = Symbol('APP_CONFIG');
