import type { AgentRateLimits, AgentRole } from '../agents/agent.entity';

/** Who is acting, from where: carried by every domain event so audit rows need no guessing. */
export interface Actor {
  agentId: string | null;
  ip: string | null;
  requestId: string | null;
}

/** An authenticated caller (REST request or socket). */
export interface Principal {
  agentId: string;
  name: string;
  role: AgentRole;
  /** Set when authenticated with a JWT. */
  jti?: string;
  /** Expiry of the JWT (epoch seconds), when authenticated with one. */
  exp?: number;
  /** The API token used directly, or the one the JWT was issued from. */
  tokenId?: string;
  /** Admin-set overrides of the configured limits. */
  rateLimits?: AgentRateLimits | null;
}

export const systemActor: Actor = { agentId: null, ip: null, requestId: null };
