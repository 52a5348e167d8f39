import { Controller, Get, HttpCode, Inject, Res } from '@nestjs/common';
import type Redis from 'ioredis';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheckService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import { Public, SkipRateLimit } from '../auth/decorators';
import { REDIS_CLIENT } from '../redis/redis.module';
import { ReadinessState } from './readiness.service';

const DB_PING_TIMEOUT_MS = 2000;
const REDIS_PING_TIMEOUT_MS = 500;
const CHECK_TTL_MS = 1000;

@ApiTags('operations')
@Public()
@SkipRateLimit()
@Controller()
export class HealthController {
  private cached: { at: number; result: Promise<Record<string, string>> } | undefined;

  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly readiness: ReadinessState,
    @Inject(REDIS_CLIENT) private readonly redis: Redis | null,
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
    // Probes are exempt from rate limits: at most one dependency check per second is shared by
    // all concurrent callers, so a flood of /readyz cannot drain the database pool.
    const checks = { ...(await this.dependencies()) };
    if (this.readiness.isDraining) checks.shutdown = 'draining';
    const ready = checks.database === 'up' && !this.readiness.isDraining;
    void reply.status(ready ? 200 : 503);
    // Without Redis a node still serves its own sockets: ready, but degraded (no cross-node fan-out).
    return { status: !ready ? 'unavailable' : checks.redis === 'down' ? 'degraded' : 'ok', checks };
  }

  private async dependencies(): Promise<Record<string, string>> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > CHECK_TTL_MS) {
      this.cached = { at: now, result: this.checkDependencies() };
    }
    return this.cached.result;
  }

  private async checkDependencies(): Promise<Record<string, string>> {
    const checks: Record<string, string> = {};
    try {
      await this.health.check([
        () => this.db.pingCheck('database', { timeout: DB_PING_TIMEOUT_MS }),
      ]);
      checks.database = 'up';
    } catch {
      checks.database = 'down';
    }
    if (this.redis) checks.redis = (await this.redisAnswers()) ? 'up' : 'down';
    return checks;
  }

  private async redisAnswers(): Promise<boolean> {
    if (!this.redis) return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((done) => {
      timer = setTimeout(() => done(false), REDIS_PING_TIMEOUT_MS);
    });
    const ping = this.redis.ping().then(
      (answer) => answer === 'PONG',
      () => false,
    );
    try {
      return await Promise.race([ping, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
