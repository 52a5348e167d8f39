import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from './app-config';

/**
 * Outside production, a missing JWT_SECRET is generated once and kept in the data dir (mode 0600),
 * so tokens survive restarts without any setup. Production refuses to start without one
 * (loadConfig), so this never runs there.
 */
export function resolveJwtSecret(config: AppConfig): AppConfig {
  if (config.jwt.secret) return config;
  if (config.nodeEnv === 'production')
    throw new Error('JWT_SECRET is required when NODE_ENV=production');
  mkdirSync(config.dataDir, { recursive: true });
  const file = join(config.dataDir, 'jwt-secret');
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(48).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  }
  const secret = readFileSync(file, 'utf8').trim();
  return { ...config, jwt: { ...config.jwt, secret } };
}
