import type Redis from 'ioredis';
import type { RateLimitStore, WindowHit } from './rate-limit.store';

/** INCR, set the expiry on the first hit, and read the TTL, atomically. */
const HIT_SCRIPT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
`;

/** Counters shared by every node; keys expire with their window, so Redis memory stays bounded. */
export class RedisRateLimitStore implements RateLimitStore {
  private readonly commands: Redis & {
    agenthubRateHit(key: string, windowMs: string): Promise<[number, number]>;
  };

  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'agenthub:rl:',
  ) {
    redis.defineCommand('agenthubRateHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    this.commands = redis as typeof this.commands;
  }

  async hit(key: string, windowMs: number): Promise<WindowHit> {
    // A defined command runs as EVALSHA: the script text is not sent per request.
    const [count, ttl] = await this.commands.agenthubRateHit(this.prefix + key, String(windowMs));
    return { count, resetInMs: ttl };
  }

  async peek(key: string): Promise<WindowHit | null> {
    const replies =
      (await this.redis
        .multi()
        .get(this.prefix + key)
        .pttl(this.prefix + key)
        .exec()) ?? [];
    const count = replies[0]?.[1] as string | null | undefined;
    const ttl = replies[1]?.[1] as number | undefined;
    return count === null || count === undefined || ttl === undefined || ttl < 0
      ? null
      : { count: Number(count), resetInMs: ttl };
  }

  size(): number {
    return 0;
  }

  /** The connection is shared and closed by RedisModule. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Shared counters while Redis answers, this node's own counters while it does not: a Redis outage
 * degrades limits to per-node instead of failing requests or letting them hang.
 */
export class FallbackRateLimitStore implements RateLimitStore {
  constructor(
    private readonly primary: RateLimitStore,
    private readonly fallback: RateLimitStore,
  ) {}

  async hit(key: string, windowMs: number): Promise<WindowHit> {
    try {
      return await this.primary.hit(key, windowMs);
    } catch {
      return this.fallback.hit(key, windowMs);
    }
  }

  async peek(key: string): Promise<WindowHit | null> {
    try {
      return await this.primary.peek(key);
    } catch {
      return this.fallback.peek(key);
    }
  }

  size(): number {
    return this.fallback.size();
  }

  async close(): Promise<void> {
    await this.fallback.close();
  }
}
