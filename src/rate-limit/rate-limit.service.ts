import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import type { Actor, Principal } from '../common/actor';
import type { DomainEvent } from '../common/domain-events';
import { AppError } from '../common/errors';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { METRIC } from '../metrics/metric-names';
import { RATE_LIMIT_STORE, type RateLimitStore } from './rate-limit.store';

export type Transport = 'rest' | 'ws';

export interface LimitState {
  limit: number;
  remaining: number;
  resetSeconds: number;
}

const MINUTE_MS = 60_000;
/** At most one `rate-limited` audit row per limited key per minute, from a bounded map. */
const AUDIT_SAMPLE_MS = 60_000;
const AUDIT_SAMPLE_MAX_KEYS = 10_000;

/** The runbook's limits, counted across all routes per IP (anonymous) or per agent. */
@Injectable()
export class RateLimitService implements OnApplicationShutdown {
  private readonly logger = new Logger(RateLimitService.name);
  private readonly lastAudited = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(RATE_LIMIT_STORE) private readonly store: RateLimitStore,
    @InjectMetric(METRIC.rateLimitHits) private readonly hits: Counter<'transport'>,
    private readonly events: EventEmitter2,
  ) {}

  /** REST, per client IP, for requests without valid credentials. */
  checkAnonymous(ip: string, actor: Actor): Promise<LimitState> {
    return this.check(`rest:ip:${ip}`, this.config.rateLimits.restAnon, MINUTE_MS, 'rest', actor);
  }

  /** Whether the IP's anonymous window is used up (read without counting a hit). */
  async isIpExhausted(ip: string): Promise<boolean> {
    const window = await this.store.peek(`rest:ip:${ip}`).catch(() => null);
    return window !== null && window.count >= this.config.rateLimits.restAnon;
  }

  /** REST, per agent across all its tokens and IPs. */
  checkAgent(principal: Principal, actor: Actor): Promise<LimitState> {
    const limit = principal.rateLimits?.restPerMinute ?? this.config.rateLimits.restAuth;
    return this.check(`rest:agent:${principal.agentId}`, limit, MINUTE_MS, 'rest', actor);
  }

  /** socket.io handshakes per client IP per minute. */
  checkHandshake(ip: string, actor: Actor): Promise<LimitState> {
    return this.check(
      `ws:handshake:${ip}`,
      this.config.rateLimits.wsHandshakesPerMinute,
      MINUTE_MS,
      'ws',
      actor,
    );
  }

  /** Records a refusal decided elsewhere (the per-socket token bucket). */
  recordRefusal(
    transport: Transport,
    key: string,
    actor: Actor,
    data: Record<string, unknown>,
  ): void {
    this.hits.inc({ transport });
    this.audit(key, actor, { transport, ...data });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }

  get trackedKeys(): number {
    return this.store.size() + this.lastAudited.size;
  }

  private async check(
    key: string,
    limit: number,
    windowMs: number,
    transport: Transport,
    actor: Actor,
  ): Promise<LimitState> {
    const { count, resetInMs } = await this.store.hit(key, windowMs);
    const state: LimitState = {
      limit,
      remaining: Math.max(0, limit - count),
      resetSeconds: Math.max(1, Math.ceil(resetInMs / 1000)),
    };
    if (count > limit) {
      this.recordRefusal(transport, key, actor, { limit, windowSeconds: windowMs / 1000 });
      throw new AppError(
        'rate_limited',
        `rate limit of ${limit} per ${windowMs / 1000} s exceeded; retry in ${state.resetSeconds} s`,
        {
          retryAfterSeconds: state.resetSeconds,
          limit,
        },
      );
    }
    return state;
  }

  private audit(key: string, actor: Actor, data: Record<string, unknown>): void {
    const now = Date.now();
    const last = this.lastAudited.get(key);
    if (last !== undefined && now - last < AUDIT_SAMPLE_MS) return;
    if (this.lastAudited.size >= AUDIT_SAMPLE_MAX_KEYS) {
      for (const [k, at] of this.lastAudited)
        if (now - at >= AUDIT_SAMPLE_MS) this.lastAudited.delete(k);
      if (this.lastAudited.size >= AUDIT_SAMPLE_MAX_KEYS) this.lastAudited.clear();
    }
    this.lastAudited.set(key, now);
    const event: DomainEvent = { actor, data: { key, ...data } };
    this.events
      .emitAsync('rate-limited', event)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'rate-limited audit failed'));
  }
}
