import { Injectable } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import type { DomainEvent } from '../common/domain-events';
import type { SessionState } from './sessions.repository';

/** How long a JWT's session state is reused without asking the database again. */
const TTL_MS = 1000;
const MAX_ENTRIES = 10_000;

interface Entry {
  jti: string;
  agentId: string;
  tokenId: string | null;
  state: SessionState;
  at: number;
}

/**
 * A one-second memory of each JWT's session state (agent role, disabled, revocations), so a busy
 * agent does not cost a database round trip per request. Any change on this node — disabling,
 * role or limit changes, token revocation, logout, revoke-sessions — drops the affected entries at
 * once; a change made on another node is seen here within a second.
 */
@Injectable()
export class SessionCache {
  private readonly entries = new Map<string, Entry>();

  /** Entries are keyed by every claim the state depends on, not by jti alone. */
  get(
    jti: string,
    agentId: string,
    tokenId: string | null,
    now = Date.now(),
  ): SessionState | undefined {
    const key = cacheKey(jti, agentId, tokenId);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (now - entry.at > TTL_MS) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.state;
  }

  set(
    jti: string,
    agentId: string,
    tokenId: string | null,
    state: SessionState,
    now = Date.now(),
  ): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(cacheKey(jti, agentId, tokenId), { jti, agentId, tokenId, state, at: now });
  }

  get size(): number {
    return this.entries.size;
  }

  @OnEvent('agent-updated')
  onAgentUpdated(event: DomainEvent): void {
    if (event.targetId) this.drop((entry) => entry.agentId === event.targetId);
  }

  @OnEvent('token-revoked')
  onTokenRevoked(event: DomainEvent): void {
    if (event.targetId) this.drop((entry) => entry.tokenId === event.targetId);
  }

  @OnEvent('sessions-revoked')
  onSessionsRevoked(event: DomainEvent): void {
    if (!event.targetId) return;
    if (event.targetType === 'jwt') this.drop((entry) => entry.jti === event.targetId);
    else this.drop((entry) => entry.agentId === event.targetId);
  }

  private drop(matches: (entry: Entry) => boolean): void {
    for (const [key, entry] of this.entries) if (matches(entry)) this.entries.delete(key);
  }
}

function cacheKey(jti: string, agentId: string, tokenId: string | null): string {
  return `${jti}:${agentId}:${tokenId ?? ''}`;
}
