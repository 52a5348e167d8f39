import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply } from 'fastify';
import type { AgentRole } from '../agents/agent.entity';
import { AppError, forbidden, unauthorized } from '../common/errors';
import { LimitState, RateLimitService } from '../rate-limit/rate-limit.service';
import { AuthService } from './auth.service';
import { actorOf, AuthedRequest, IS_PUBLIC, REQUIRED_ROLE, SKIP_RATE_LIMIT } from './decorators';

/**
 * The one REST access guard (registered globally). Every route needs `Authorization: Bearer <JWT or
 * API token>` unless @Public(); @AdminOnly() routes answer 403 `forbidden` to agents. It also
 * applies the REST rate limits, counted across all routes: per agent once authenticated, per
 * client IP otherwise (failed authentications included, so guessing tokens is limited too, and an
 * IP over its limit no longer writes an audit row per failure).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly limits: RateLimitService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    const isPublic = this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) ?? false;
    const limited = !this.reflector.getAllAndOverride<boolean>(SKIP_RATE_LIMIT, targets);
    const http = context.switchToHttp();
    const request = http.getRequest<AuthedRequest>();
    const reply = http.getResponse<FastifyReply>();
    const limit = async (check: () => Promise<LimitState>): Promise<void> => {
      if (limited) await this.applyLimit(reply, check);
    };

    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (isPublic || !match) {
      await limit(() => this.limits.checkAnonymous(request.ip, actorOf(request)));
      if (isPublic) return true;
      throw unauthorized('missing bearer token');
    }

    // Valid credentials are never refused for their IP's anonymous traffic; failures from an IP
    // already over its limit are answered 429 without an audit row each (rate-limited is sampled).
    const exhausted = limited && (await this.limits.isIpExhausted(request.ip));
    try {
      request.principal = await this.auth.authenticateBearer(match[1], actorOf(request), {
        auditFailure: !exhausted,
      });
    } catch (error) {
      await limit(() => this.limits.checkAnonymous(request.ip, actorOf(request)));
      throw error;
    }
    const principal = request.principal;
    await limit(() => this.limits.checkAgent(principal, actorOf(request)));

    const role = this.reflector.getAllAndOverride<AgentRole | undefined>(REQUIRED_ROLE, targets);
    if (role && principal.role !== role && principal.role !== 'admin') {
      throw forbidden(`this operation needs the ${role} role`);
    }
    return true;
  }

  /** IETF RateLimit-* headers on every limited response, 429s included (Retry-After: the filter). */
  private async applyLimit(reply: FastifyReply, check: () => Promise<LimitState>): Promise<void> {
    try {
      const state = await check();
      void reply
        .header('RateLimit-Limit', state.limit)
        .header('RateLimit-Remaining', state.remaining)
        .header('RateLimit-Reset', state.resetSeconds);
    } catch (error) {
      if (error instanceof AppError && error.code === 'rate_limited') {
        const details = error.details as { retryAfterSeconds: number; limit: number };
        void reply
          .header('RateLimit-Limit', details.limit)
          .header('RateLimit-Remaining', 0)
          .header('RateLimit-Reset', details.retryAfterSeconds);
      }
      throw error;
    }
  }
}
