import { createParamDecorator, ExecutionContext, SetMetadata } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AgentRole } from '../agents/agent.entity';
import type { Actor, Principal } from '../common/actor';

export const IS_PUBLIC = 'agenthub:public';
export const REQUIRED_ROLE = 'agenthub:role';
export const SKIP_RATE_LIMIT = 'agenthub:skip-rate-limit';

/** The route needs no credentials. */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

/** Probes are exempt from the REST rate limits (orchestrators poll them). */
export const SkipRateLimit = (): MethodDecorator & ClassDecorator =>
  SetMetadata(SKIP_RATE_LIMIT, true);

/** The route needs this role (admins pass every role check). */
export const RequireRole = (role: AgentRole): MethodDecorator & ClassDecorator =>
  SetMetadata(REQUIRED_ROLE, role);
export const AdminOnly = (): MethodDecorator & ClassDecorator => RequireRole('admin');

export type AuthedRequest = FastifyRequest & { principal?: Principal };

export function actorOf(request: AuthedRequest): Actor {
  return {
    agentId: request.principal?.agentId ?? null,
    ip: request.ip,
    requestId: String(request.id),
  };
}

/** The authenticated caller; only on routes that are not @Public(). */
export const CurrentPrincipal = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): Principal => {
    const principal = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
    if (!principal) throw new Error('CurrentPrincipal used on a public route');
    return principal;
  },
);

/** Who acts and from where, for audit: agent (if any), client IP, request id. */
export const RequestActor = createParamDecorator((_: unknown, ctx: ExecutionContext): Actor =>
  actorOf(ctx.switchToHttp().getRequest<AuthedRequest>()),
);
