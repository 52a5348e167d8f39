import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { QueryConfig, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { pgPool, queryRows } from '../database/pg-pool';
import type { AgentRateLimits, AgentRole } from '../agents/agent.entity';

export interface SessionState {
  name: string;
  role: AgentRole;
  disabled: boolean;
  rateLimits: AgentRateLimits | null;
  /** Epoch ms before which this agent's JWTs are revoked, or null. */
  sessionsRevokedAt: number | null;
  jtiRevoked: boolean;
  tokenRevoked: boolean;
}

/** What a JWT's validity depends on beyond its signature, read in one round trip. */
interface SessionRow extends QueryResultRow {
  name: string;
  role: AgentRole;
  disabled: boolean;
  rate_limits: AgentRateLimits | null;
  sessions_revoked_at: Date | null;
  jti_revoked: boolean;
  token_revoked: boolean;
}

/** Everything a JWT's validity depends on beyond its signature, as one prepared statement. */
const SESSION_STATE: QueryConfig = {
  name: 'agenthub_session_state',
  text: `SELECT a.name, a.role, a.disabled, a.rate_limits, a.sessions_revoked_at,
                EXISTS (SELECT 1 FROM jwt_revocations r WHERE r.jti = $2) AS jti_revoked,
                COALESCE((SELECT t.revoked_at IS NOT NULL OR (t.expires_at IS NOT NULL AND t.expires_at <= now())
                          FROM api_tokens t WHERE t.id = $3), $3::uuid IS NOT NULL) AS token_revoked
           FROM agents a WHERE a.id = $1`,
};

@Injectable()
export class SessionsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async loadState(
    agentId: string,
    jti: string,
    tokenId: string | null,
  ): Promise<SessionState | null> {
    const rows = await queryRows<SessionRow>(pgPool(this.dataSource), SESSION_STATE, [
      agentId,
      jti,
      tokenId,
    ]);
    const row = rows[0];
    if (!row) return null;
    return {
      name: row.name,
      role: row.role,
      disabled: row.disabled,
      rateLimits: row.rate_limits,
      sessionsRevokedAt: row.sessions_revoked_at ? row.sessions_revoked_at.getTime() : null,
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

  /** Every JWT of the agent issued until now stops working. */
  async revokeAllSessions(agentId: string): Promise<boolean> {
    const result: [unknown[], number] = await this.dataSource.query(
      `UPDATE agents SET sessions_revoked_at = clock_timestamp() WHERE id = $1`,
      [agentId],
    );
    return result[1] > 0;
  }

  /** Revocations of tokens that have expired anyway are dead weight. */
  async pruneExpired(): Promise<number> {
    const result: [unknown[], number] = await this.dataSource.query(
      `DELETE FROM jwt_revocations WHERE expires_at < now() - interval '1 minute'`,
    );
    return result[1];
  }
}
