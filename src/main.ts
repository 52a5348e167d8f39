import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AdminBootstrapService } from './agents/admin-bootstrap.service';
import { createApp } from './app.factory';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config';
import { resolveJwtSecret } from './config/secrets';
import { EmbeddedPostgres } from './database/embedded-postgres';
import { ReadinessState } from './health/readiness.service';

const logger = new Logger('AgentHub');

async function main(): Promise<void> {
  const started = Date.now();
  let config: AppConfig;
  try {
    config = resolveJwtSecret(loadConfig());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }

  let embedded: EmbeddedPostgres | undefined;
  if (!config.databaseUrl) {
    embedded = new EmbeddedPostgres({ dataDir: config.dataDir });
    const fresh = !embedded.isInitialised;
    await embedded.start();
    config = { ...config, databaseUrl: embedded.url('postgres') };
    logger.log(
      `embedded PostgreSQL ${fresh ? 'initialised and ' : ''}started in ${config.dataDir} (${Date.now() - started} ms)`,
    );
  }

  let app: NestFastifyApplication | undefined;
  let bootstrap: Awaited<ReturnType<AdminBootstrapService['ensureAdmin']>>;
  try {
    app = await createApp(config);
    await app.init();
    bootstrap = await app.get(AdminBootstrapService).ensureAdmin();
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    await app?.close().catch(() => undefined);
    await embedded?.stop();
    throw error;
  }
  const server = app;
  logger.log(
    `AgentHub listening on http://${config.host}:${config.port} (ready in ${Date.now() - started} ms)`,
  );
  if (bootstrap?.generatedToken) printBootstrapToken(bootstrap.generatedToken);

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal} received: draining (budget ${config.shutdownTimeoutSeconds} s)`);
    server.get(ReadinessState).startDraining();
    const deadline = setTimeout(() => {
      logger.error('graceful shutdown timed out; exiting');
      embedded?.signalStop();
      process.exit(1);
    }, config.shutdownTimeoutSeconds * 1000);
    deadline.unref();
    void (async () => {
      try {
        await server.close();
        await embedded?.stop();
        logger.log('shut down cleanly');
        process.exit(0);
      } catch (error) {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      }
    })();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

/** The one time the bootstrap admin's token is shown: stdout, never the log stream. */
function printBootstrapToken(token: string): void {
  process.stdout.write(
    [
      '',
      '================================================================',
      ' Bootstrap admin created. Its API token is shown only this once:',
      '',
      `   ${token}`,
      '',
      ' Exchange it for a JWT:  POST /v1/auth/token {"apiToken": "..."}',
      '================================================================',
      '',
    ].join('\n') + '\n',
  );
}

main().catch((error: unknown) => {
  logger.error(error instanceof Error ? error.stack : String(error));
  process.exit(1);
});
