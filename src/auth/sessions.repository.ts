import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AgentRateLimits, AgentRole } from '../agents/agent.entity';

export interface SessionState {
  name: string;
  role: AgentRole;
  disabled: boolean;
  rateLimits: AgentRateLimits | null;
  jtiRevoked: boolean;
  tokenRevoked: boolean;
}

/** What a JWT's validity depends on beyond its signature, read in one round trip. */
@Injectable()
export class SessionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async loadState(
    agentId: string,
    jti: string,
    tokenId: string | null,
  ): Promise<SessionState | null> {
    const rows: Array<{
      name: string;
      role: AgentRole;
      disabled: boolean;
      rate_limits: AgentRateLimits | null;
      jti_revoked: boolean;
      token_revoked: boolean;
    }> = await this.dataSource.query(
      `SELECT a.name, a.role, a.disabled, a.rate_limits,
                EXISTS (SELECT 1 FROM jwt_revocations r WHERE r.jti = $2) AS jti_revoked,
                COALESCE((SELECT t.revoked_at IS NOT NULL OR (t.expires_at IS NOT NULL AND t.expires_at <= now())
                          FROM api_tokens t WHERE t.id = $3), $3::uuid IS NOT NULL) AS token_revoked
           FROM agents a WHERE a.id = $1`,
      [agentId, jti, tokenId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      name: row.name,
      role: row.role,
      disabled: row.disabled,
      rateLimits: row.rate_limits,
      jtiRevoked: row.jti_revoked,
      tokenRevoked: row.token_revoked,
    };
  }

  async revokeJti(jti: string, agentId: string, expiresAt: Date): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO jwt_revocations (jti, agent_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING`,
      [jti, agentId, expiresAt],
    );
  }

  /** Revocations of tokens that have expired anyway are dead weight. */
  async pruneExpired(): Promise<number> {
    const result: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM jwt_revocations WHERE expires_at < now() - interval '1 minute'`,
    );
    return result[1];
  }
}
