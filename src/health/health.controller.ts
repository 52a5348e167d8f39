import { Controller, Get, HttpCode, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public, SkipRateLimit } from '../auth/decorators';
import { ReadinessState } from './readiness.service';

const DB_PING_TIMEOUT_MS = 2000;

@ApiTags('operations')
@Public()
@SkipRateLimit()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly readiness: ReadinessState,
  ) {}

  /** Liveness: the process is up and serving HTTP. Never checks dependencies. */
  @Get('healthz')
  @HttpCode(200)
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: 200 when the database answers within 2 s and the node is not draining, else 503. */
  @Get('readyz')
  async readyz(
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<{ status: string; checks: Record<string, string> }> {
    const checks: Record<string, string> = {};
    try {
      await this.health.check([
        () => this.db.pingCheck('database', { timeout: DB_PING_TIMEOUT_MS }),
      ]);
      checks.database = 'up';
    } catch {
      checks.database = 'down';
    }
    if (this.readiness.isDraining) checks.shutdown = 'draining';
    const ready = checks.database === 'up' && !this.readiness.isDraining;
    void reply.status(ready ? 200 : 503);
    return { status: ready ? 'ok' : 'unavailable', checks };
  }
}
