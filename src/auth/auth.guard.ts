import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { AgentRole } from '../agents/agent.entity';
import { forbidden, unauthorized } from '../common/errors';
import { AuthService } from './auth.service';
import { actorOf, AuthedRequest, IS_PUBLIC, REQUIRED_ROLE } from './decorators';

/**
 * The one REST auth guard (registered globally): every route needs `Authorization: Bearer <JWT or
 * API token>` unless marked @Public(); @AdminOnly() routes answer 403 `forbidden` to agents.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;

    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw unauthorized('missing bearer token');
    request.principal = await this.auth.authenticateBearer(match[1], actorOf(request));

    const role = this.reflector.getAllAndOverride<AgentRole | undefined>(REQUIRED_ROLE, targets);
    if (role && request.principal.role !== role && request.principal.role !== 'admin') {
      throw forbidden(`this operation needs the ${role} role`);
    }
    return true;
  }
}
