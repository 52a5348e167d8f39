import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { LoggerModule } from 'nestjs-pino';
import { AgentsModule } from './agents/agents.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { HttpExceptionFilter } from './common/http-exception.filter';
import type { AppConfig } from './config/app-config';
import { AppConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { MessagesModule } from './messages/messages.module';
import { MetricsModule } from './metrics/metrics.module';
import { RateLimitModule } from './rate-limit/rate-limit.module';
import { RedisModule } from './redis/redis.module';
import { RealtimeModule } from './realtime/realtime.module';
import { RoomsModule } from './rooms/rooms.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            redact: {
              paths: [
                'req.headers.authorization',
                'req.headers.cookie',
                'req.body.apiToken',
                'req.body.token',
                // Database errors carry the statement and its parameters (token hashes, bodies).
                'err.parameters',
                'err.query',
                'err.driverError.parameters',
              ],
              censor: '[redacted]',
            },
            customLogLevel: (_req, res, err) =>
              err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
            autoLogging: {
              ignore: (req) =>
                req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics',
            },
          },
          // No per-request middleware: it would switch on AsyncLocalStorage, whose promise hooks tax
          // every promise in the process (measured: a sixth of the CPU per message). Requests are
          // logged by a Fastify hook instead (app.factory.ts), with the same pino logger.
          forRoutes: [],
        }),
        EventEmitterModule.forRoot(),
        DatabaseModule,
        MetricsModule,
        RedisModule,
        RateLimitModule,
        HealthModule,
        AuditModule,
        AgentsModule,
        AuthModule,
        RoomsModule,
        MessagesModule,
        RealtimeModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: HttpExceptionFilter }],
    };
  }
}
