import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { AgentUpdatedEvent } from '../agents/agents.service';
import type { DomainEvent } from '../common/domain-events';
import { AgentServer, channel } from './socket-types';

/**
 * Closes live sockets whose credentials stopped being valid: a disabled agent, a revoked API token
 * (and the JWTs issued from it), revoked sessions, a logged-out JWT. The socket first receives
 * `error {code:'unauthorized', message: <reason>}`; with the Redis adapter this reaches every node.
 */
@Injectable()
export class SocketCutoffs {
  private server: AgentServer | undefined;

  attach(server: AgentServer): void {
    this.server = server;
  }

  @OnEvent('agent-updated')
  onAgentUpdated(event: AgentUpdatedEvent): void {
    if (event.data.disabled) this.cut(channel.agent(event.targetId), 'agent disabled');
    // Sockets carry the role they authenticated with: a changed role must be re-authenticated.
    else if (event.data.changes.includes('role'))
      this.cut(channel.agent(event.targetId), 'role changed; reconnect');
  }

  @OnEvent('token-revoked')
  onTokenRevoked(event: DomainEvent): void {
    if (event.targetId) this.cut(channel.token(event.targetId), 'api token revoked');
  }

  @OnEvent('sessions-revoked')
  onSessionsRevoked(event: DomainEvent): void {
    if (!event.targetId) return;
    if (event.targetType === 'agent') this.cut(channel.agent(event.targetId), 'sessions revoked');
    if (event.targetType === 'jwt')
      this.cut(channel.jwt(event.targetId), 'access token revoked (logout)');
  }

  private cut(target: string, reason: string): void {
    if (!this.server) return;
    this.server.to(target).emit('error', { code: 'unauthorized', message: reason });
    this.server.in(target).disconnectSockets(true);
  }
}
