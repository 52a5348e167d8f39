import { Inject, Injectable } from '@nestjs/common';
import type { Actor } from '../common/actor';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import type { WsError } from '../contracts/socket-events';
import { RateLimitService } from '../rate-limit/rate-limit.service';
import { TokenBucket } from '../rate-limit/token-bucket';
import type { AgentSocket } from './socket-types';

/** A socket refused this many events within one 10 s window is flooding: it is disconnected. */
const ABUSE_WINDOW_MS = 10_000;
const ABUSE_MULTIPLE = 5;

interface SocketBudget {
  bucket: TokenBucket;
  refusals: number;
  windowStart: number;
}

/**
 * Per-socket event limits: a token bucket of RATE_LIMIT_WS_EVENTS per second (or the agent's
 * override) in front of every handler. Buckets live on the node that holds the socket and are
 * dropped on disconnect; refusals are counted in rate_limit_hits_total{transport="ws"}.
 */
@Injectable()
export class SocketLimits {
  private readonly budgets = new Map<string, SocketBudget>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly limits: RateLimitService,
  ) {}

  /** Installs the per-packet check on a newly connected socket. */
  attach(socket: AgentSocket, actor: () => Actor): void {
    const budget: SocketBudget = {
      bucket: new TokenBucket(this.rateOf(socket)),
      refusals: 0,
      windowStart: Date.now(),
    };
    this.budgets.set(socket.id, budget);
    socket.use((packet, next) => {
      if (budget.bucket.take()) {
        next();
        return;
      }
      const now = Date.now();
      if (now - budget.windowStart > ABUSE_WINDOW_MS) {
        budget.windowStart = now;
        budget.refusals = 0;
      }
      budget.refusals += 1;
      const rate = this.rateOf(socket);
      this.limits.recordRefusal('ws', `ws:agent:${socket.data.principal.agentId}`, actor(), {
        limit: rate,
        event: String(packet[0]),
      });
      const error: WsError = {
        code: 'rate_limited',
        message: `more than ${rate} events per second`,
        details: { retryAfterMs: budget.bucket.waitMs() },
      };
      const ack: unknown = packet[packet.length - 1];
      if (typeof ack === 'function') (ack as (response: unknown) => void)({ ok: false, error });
      else socket.emit('error', error);
      if (budget.refusals >= rate * ABUSE_MULTIPLE) {
        socket.emit('error', {
          code: 'rate_limited',
          message: 'disconnected: sustained event flood',
        });
        socket.disconnect(true);
      }
    });
  }

  /** After auth:refresh the agent's override may have changed. */
  refresh(socket: AgentSocket): void {
    this.budgets.get(socket.id)?.bucket.setRate(this.rateOf(socket));
  }

  detach(socketId: string): void {
    this.budgets.delete(socketId);
  }

  get size(): number {
    return this.budgets.size;
  }

  private rateOf(socket: AgentSocket): number {
    return (
      socket.data.principal.rateLimits?.wsEventsPerSecond ??
      this.config.rateLimits.wsEventsPerSecond
    );
  }
}
