import { Inject, Injectable, Logger } from '@nestjs/common';
import type { KeyObject } from 'node:crypto';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { JwtService } from '@nestjs/jwt';
import { ApiTokensRepository } from '../agents/api-tokens.repository';
import type { AccessTokenDto } from '../contracts/rest';
import { Actor, Principal } from '../common/actor';
import type { DomainEvent } from '../common/domain-events';
import { AppError } from '../common/errors';
import { UUID_PATTERN, uuidv7, uuidv7Time } from '../common/uuid';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { API_TOKEN_PATTERN, hashApiToken } from './api-token';
import { JwtKeyRing } from './jwt-keys';
import { SessionCache } from './session-cache';
import { SessionsRepository } from './sessions.repository';

export const JWT_ISSUER = 'agenthub';
export const JWT_AUDIENCE = 'agenthub';
export const JWT_KEY_RING = Symbol('JWT_KEY_RING');

interface AccessClaims {
  sub: string;
  role: string;
  jti: string;
  tid?: string;
  exp: number;
  iat: number;
}

/** Thrown for every authentication failure; the reason goes to the audit log, not to the client. */
class AuthFailure extends AppError {
  constructor(readonly reason: string) {
    super('unauthorized', 'invalid or expired credentials');
  }
}

@Injectable()
export class AuthService {
  private readonly logger = new Logger(AuthService.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(JWT_KEY_RING) private readonly keys: JwtKeyRing,
    private readonly jwt: JwtService,
    private readonly tokens: ApiTokensRepository,
    private readonly sessions: SessionsRepository,
    private readonly sessionCache: SessionCache,
    private readonly events: EventEmitter2,
  ) {}

  /** `POST /v1/auth/token`: trades an API token for a short-lived JWT. */
  async issueAccessToken(apiToken: string, actor: Actor): Promise<AccessTokenDto> {
    const principal = await this.failAudited(actor, 'api_token', () =>
      this.verifyApiToken(apiToken),
    );
    const jti = uuidv7();
    const accessToken = await this.jwt.signAsync(
      { role: principal.role, tid: principal.tokenId },
      {
        secret: asJwtSecret(this.keys.signing.key),
        algorithm: 'HS256',
        keyid: this.keys.signing.kid,
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
        subject: principal.agentId,
        jwtid: jti,
        expiresIn: this.config.jwt.ttlSeconds,
      },
    );
    await this.emit('jwt-issued', {
      actor: { ...actor, agentId: principal.agentId },
      targetType: 'jwt',
      targetId: jti,
      data: {
        tokenId: principal.tokenId,
        kid: this.keys.signing.kid,
        expiresIn: this.config.jwt.ttlSeconds,
      },
    });
    return { accessToken, tokenType: 'Bearer', expiresIn: this.config.jwt.ttlSeconds };
  }

  /** REST `Authorization: Bearer <JWT or API token>`. */
  /** `auditFailure: false` for callers already over their limit: their failures are not recorded one by one. */
  authenticateBearer(
    credential: string,
    actor: Actor,
    options: { auditFailure?: boolean } = {},
  ): Promise<Principal> {
    const method = credential.startsWith('ahp_') ? 'api_token' : 'jwt';
    return this.failAudited(
      actor,
      method,
      () => (method === 'api_token' ? this.verifyApiToken(credential) : this.verifyJwt(credential)),
      options.auditFailure ?? true,
    );
  }

  /** socket.io handshake and `auth:refresh`: JWTs only. */
  authenticateJwt(token: string, actor: Actor): Promise<Principal> {
    return this.failAudited(actor, 'jwt', () => this.verifyJwt(token));
  }

  /** Admin: every JWT of the agent issued so far stops working, and its sockets are cut. */
  async revokeSessions(agentId: string, actor: Actor): Promise<void> {
    if (!UUID_PATTERN.test(agentId) || !(await this.sessions.revokeAllSessions(agentId))) {
      throw new AppError('not_found', 'agent not found');
    }
    await this.emit('sessions-revoked', {
      actor,
      targetType: 'agent',
      targetId: agentId,
      data: { scope: 'all' },
    });
  }

  /** Revokes the JWT a principal authenticated with (logout). */
  async revokeCurrentJwt(principal: Principal, actor: Actor): Promise<void> {
    if (!principal.jti || !principal.exp) {
      throw new AppError('validation_failed', 'only a JWT session can be revoked this way');
    }
    await this.sessions.revokeJti(principal.jti, principal.agentId, new Date(principal.exp * 1000));
    await this.emit('sessions-revoked', {
      actor,
      targetType: 'jwt',
      targetId: principal.jti,
      data: { scope: 'jwt' },
    });
  }

  private async verifyApiToken(token: string): Promise<Principal> {
    if (!API_TOKEN_PATTERN.test(token)) throw new AuthFailure('malformed api token');
    const found = await this.tokens.findByHash(hashApiToken(token));
    if (!found) throw new AuthFailure('unknown api token');
    const { token: row, agent } = found;
    if (row.revokedAt) throw new AuthFailure('revoked api token');
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now())
      throw new AuthFailure('expired api token');
    if (agent.disabled) throw new AuthFailure('agent disabled');
    void this.tokens
      .touchLastUsed(row.id)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'touchLastUsed failed'));
    return {
      agentId: agent.id,
      name: agent.name,
      role: agent.role,
      tokenId: row.id,
      rateLimits: agent.rateLimits,
    };
  }

  private async verifyJwt(token: string): Promise<Principal> {
    const claims = this.verifySignature(token);
    let state = this.sessionCache.get(claims.jti, claims.sub, claims.tid ?? null);
    if (!state) {
      const loaded = await this.sessions.loadState(claims.sub, claims.jti, claims.tid ?? null);
      if (loaded) this.sessionCache.set(claims.jti, claims.sub, claims.tid ?? null, loaded);
      state = loaded ?? undefined;
    }
    if (!state) throw new AuthFailure('unknown agent');
    if (state.disabled) throw new AuthFailure('agent disabled');
    if (state.jtiRevoked) throw new AuthFailure('revoked jwt');
    if (state.sessionsRevokedAt !== null && uuidv7Time(claims.jti) < state.sessionsRevokedAt) {
      throw new AuthFailure('sessions revoked');
    }
    if (state.tokenRevoked) throw new AuthFailure('api token of jwt revoked');
    return {
      agentId: claims.sub,
      name: state.name,
      role: state.role,
      jti: claims.jti,
      exp: claims.exp,
      tokenId: claims.tid,
      rateLimits: state.rateLimits,
    };
  }

  /** Pins HS256, requires exp, checks iss/aud, and picks the key by `kid` (a lookup key only). */
  private verifySignature(token: string): AccessClaims {
    let header: unknown;
    try {
      header = this.jwt.decode(token, { complete: true })?.header;
    } catch {
      throw new AuthFailure('malformed jwt');
    }
    if (!header || typeof header !== 'object') throw new AuthFailure('malformed jwt');
    const { alg, kid } = header as { alg?: unknown; kid?: unknown };
    if (alg !== 'HS256') throw new AuthFailure(`jwt alg ${String(alg)} not accepted`);
    const key = this.keys.find(kid);
    if (!key) throw new AuthFailure('jwt kid unknown');
    let claims: Partial<AccessClaims>;
    try {
      claims = this.jwt.verify<Partial<AccessClaims>>(token, {
        secret: asJwtSecret(key.key),
        algorithms: ['HS256'],
        issuer: JWT_ISSUER,
        audience: JWT_AUDIENCE,
      });
    } catch (error) {
      throw new AuthFailure(`jwt rejected: ${(error as Error).message}`);
    }
    if (typeof claims.exp !== 'number') throw new AuthFailure('jwt without exp');
    if (typeof claims.sub !== 'string' || !UUID_PATTERN.test(claims.sub))
      throw new AuthFailure('jwt sub invalid');
    if (typeof claims.jti !== 'string' || !UUID_PATTERN.test(claims.jti))
      throw new AuthFailure('jwt jti invalid');
    if (
      claims.tid !== undefined &&
      (typeof claims.tid !== 'string' || !UUID_PATTERN.test(claims.tid))
    ) {
      throw new AuthFailure('jwt tid invalid');
    }
    return claims as AccessClaims;
  }

  private async failAudited(
    actor: Actor,
    method: string,
    verify: () => Promise<Principal>,
    audit = true,
  ): Promise<Principal> {
    try {
      return await verify();
    } catch (error) {
      if (error instanceof AuthFailure && audit) {
        await this.emit('auth-failed', { actor, data: { method, reason: error.reason } });
      }
      throw error;
    }
  }

  private async emit(type: string, event: DomainEvent): Promise<void> {
    await this.events.emitAsync(type, event);
  }
}

/** jsonwebtoken takes KeyObjects; @nestjs/jwt's option type only names string | Buffer. */
function asJwtSecret(key: KeyObject): Buffer {
  return key as unknown as Buffer;
}
