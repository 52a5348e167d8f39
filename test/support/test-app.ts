import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AdminBootstrapService } from '../../src/agents/admin-bootstrap.service';
import { createApp } from '../../src/app.factory';
import { generateApiToken } from '../../src/auth/api-token';
import { loadConfig, type AppConfig } from '../../src/config/app-config';
import { createTestDatabase } from './test-database';

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdefghijklmnopqrstuvwxyz';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  /** http://127.0.0.1:<port> */
  url: string;
  databaseUrl: string;
  adminToken: string;
  close: () => Promise<void>;
}

/**
 * Boots the real application on a fresh database and a free loopback port, with a known
 * bootstrap admin token. `env` overrides configuration variables exactly as the environment would.
 */
export async function bootTestApp(
  env: Record<string, string> = {},
  database?: { url: string },
): Promise<TestApp> {
  const db = database
    ? { url: database.url, drop: async () => undefined }
    : await createTestDatabase();
  const adminToken = generateApiToken();
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    ADMIN_API_TOKEN: adminToken,
    PORT: '0',
    HOST: '127.0.0.1',
    // Every test client comes from 127.0.0.1: limits are generous unless a test sets them.
    RATE_LIMIT_REST_ANON: '1000000',
    RATE_LIMIT_REST_AUTH: '1000000',
    RATE_LIMIT_WS_EVENTS: '100000',
    RATE_LIMIT_WS_HANDSHAKES: '1000000',
    ...env,
    DATABASE_URL: db.url,
  });
  const app = await createApp(config, { logger: process.env.AGENTHUB_TEST_LOGS === '1' });
  await app.init();
  await app.get(AdminBootstrapService).ensureAdmin();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : 0;
  let closed = false;
  return {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    databaseUrl: db.url,
    adminToken,
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
      await db.drop();
    },
  };
}
