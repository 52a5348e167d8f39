import { Inject, Injectable } from '@nestjs/common';
import { AuthService } from '../auth/auth.service';
import type { Actor, Principal } from '../common/actor';
import { clientIpResolver } from '../common/client-ip';
import { AppError } from '../common/errors';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { ReadinessState } from '../health/readiness.service';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { releaseUpgradeRequest } from './socket-io.adapter';
import { AgentServer, AgentSocket, channel } from './socket-types';

/**
 * The socket.io handshake (guards never run there): refused while draining, per-IP handshake
 * rate, a valid JWT in `auth.token` checked by the same AuthService as REST, and the cap on sockets
 * per agent. A refusal reaches the client as `connect_error` with `err.data = {code, message}`.
 */
@Injectable()
export class SocketAdmission {
  private readonly clientIp: ReturnType<typeof clientIpResolver>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly auth: AuthService,
    private readonly limits: RateLimitService,
    private readonly readiness: ReadinessState,
  ) {
    this.clientIp = clientIpResolver(config.trustedProxies);
  }

  install(server: AgentServer): void {
    server.use((socket: AgentSocket, next) => {
      const token: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.token;
      const ip = this.clientIp(socket.request);
      this.admit(server, token, { agentId: null, ip, requestId: socket.id })
        .then((principal) => {
          socket.data = { principal, ip, rooms: [] };
          forgetHandshakeSecrets(socket);
          next();
        })
        .catch((error: unknown) => {
          const known = error instanceof AppError;
          const code = known ? error.code : 'unavailable';
          const message = known ? error.message : 'authentication unavailable';
          next(Object.assign(new Error(message), { data: { code, message } }));
        });
    });
  }

  /**
   * The agent's open sockets: this node's count is a map lookup; with Redis the other nodes are
   * asked too (if they cannot be asked, this node's own count stands).
   */
  private async openSockets(server: AgentServer, agentId: string): Promise<number> {
    const here = server.of('/').adapter.rooms.get(channel.agent(agentId))?.size ?? 0;
    if (!this.config.redisUrl) return here;
    return server
      .in(channel.agent(agentId))
      .fetchSockets()
      .then((sockets) => sockets.length)
      .catch(() => here);
  }

  private async admit(server: AgentServer, token: unknown, actor: Actor): Promise<Principal> {
    if (this.readiness.isDraining)
      throw new AppError('unavailable', 'server is shutting down; reconnect shortly');
    await this.limits.checkHandshake(actor.ip ?? 'unknown', actor);
    if (typeof token !== 'string' || token.length === 0 || token.length > 4096) {
      throw new AppError('unauthorized', 'auth.token must carry an access JWT');
    }
    const principal = await this.auth.authenticateJwt(token, actor);
    const cap = this.config.rateLimits.wsSocketsPerAgent;
    if ((await this.openSockets(server, principal.agentId)) >= cap) {
      this.limits.recordRefusal(
        'ws',
        `ws:sockets:${principal.agentId}`,
        { ...actor, agentId: principal.agentId },
        { limit: cap },
      );
      throw new AppError('rate_limited', `at most ${cap} sockets per agent`);
    }
    return principal;
  }
}

/**
 * What an admitted socket no longer needs, dropped so that idle connections stay small: the JWT
 * string in `handshake.auth` (about 0.4 KiB each, and a bearer credential best not kept in memory
 * longer than needed; `socket.data.principal` holds what it proved) and the upgrade request.
 */
function forgetHandshakeSecrets(socket: AgentSocket): void {
  const auth = socket.handshake.auth as Record<string, unknown> | undefined;
  if (auth) delete auth.token;
  releaseUpgradeRequest(socket);
}
