import helmet from '@fastify/helmet';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { Logger } from '@nestjs/common';
import { AppModule } from './app.module';
import { codeForStatus } from './common/errors';
import { OriginPolicy } from './common/origin-policy';
import { CSP_DIRECTIVES, securityHeaders } from './common/security-headers';
import { createValidationPipe } from './common/validation';
import { uuidv7 } from './common/uuid';
import type { AppConfig } from './config/app-config';
import { ReadinessState } from './health/readiness.service';
import { AgentHubIoAdapter } from './realtime/socket-io.adapter';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
/** Probes and scrapes: frequent, uninteresting, not logged. */
const UNLOGGED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/** A client-supplied X-Request-Id is kept when it is short and plain; otherwise we make one. */
function requestId(raw: IncomingMessage): string {
  const header = raw.headers['x-request-id'];
  const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : uuidv7();
  (raw as IncomingMessage & { id?: string }).id = id;
  return id;
}

/**
 * Builds the whole HTTP + socket.io application for a resolved configuration (database URL and
 * JWT secret known). Used by main.ts and by the end-to-end tests, so they exercise the same app.
 */
export async function createApp(
  config: AppConfig,
  options: { logger?: boolean } = {},
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    genReqId: requestId,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    routerOptions: { maxParamLength: 500 },
    // Malformed URLs are refused by Fastify's router before any hook (helmet included) runs.
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const status = error.statusCode ?? 400;
      void reply
        .code(status)
        .headers({ ...securityHeaders(config), 'X-Request-Id': String(request.id) })
        .send({ statusCode: status, code: codeForStatus(status), message: 'malformed request' });
    },
  });
  const quiet = options.logger === false;
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    bufferLogs: !quiet,
    logger: quiet ? false : undefined,
    abortOnError: false,
  });
  if (!quiet) app.useLogger(app.get(PinoNestLogger));
  app.useGlobalPipes(createValidationPipe());
  app.useWebSocketAdapter(new AgentHubIoAdapter(app, config));

  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: CSP_DIRECTIVES,
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'strict-origin' },
    hsts: config.enableHsts ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
  });
  const origins = new OriginPolicy(config.allowedOrigins);
  app.enableCors({
    origin: (origin: string | undefined, callback: (error: Error | null, allow: boolean) => void) =>
      callback(null, origins.allows(origin)),
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
    exposedHeaders: [
      'X-Request-Id',
      'Retry-After',
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
    ],
    maxAge: 600,
  });
  const fastify = app.getHttpAdapter().getInstance();
  const readiness = app.get(ReadinessState);
  const requests = new Logger('HTTP');
  fastify.addHook('onResponse', (request, reply, done) => {
    if (!UNLOGGED_PATHS.has(request.url)) {
      const entry = {
        reqId: request.id,
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        responseTimeMs: Math.round(reply.elapsedTime),
      };
      if (reply.statusCode >= 500) requests.error(entry, 'request failed');
      else if (reply.statusCode >= 400) requests.warn(entry, 'request refused');
      else requests.log(entry, 'request completed');
    }
    done();
  });
  fastify.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('X-Request-Id', request.id);
    // While draining, keep-alive connections are closed after their response, so shutdown does
    // not wait on idle ones.
    if (readiness.isDraining) void reply.header('Connection', 'close');
    done(null, payload);
  });

  // The OpenAPI document is built on the first request for it, not at start: building it costs
  // the process about 6 MiB of resident memory that nothing else needs (measured idle).
  const documentConfig = new DocumentBuilder()
    .setTitle('AgentHub')
    .setDescription(
      'Real-time messaging hub for AI agents. Real-time events: see docs/protocol.md.',
    )
    .setVersion('1')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'JWT from POST /v1/auth/token, or an API token',
    })
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, documentConfig), {
    jsonDocumentUrl: 'docs-json',
  });
  return app;
}
