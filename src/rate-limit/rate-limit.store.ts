/**
 * Fixed-window counters behind one interface: in process memory by default (bounded and pruned),
 * in Redis when REDIS_URL is set so that every node shares them.
 */
export interface WindowHit {
  /** Hits in the current window, this one included. */
  count: number;
  /** Milliseconds until the window resets. */
  resetInMs: number;
}

export interface RateLimitStore {
  hit(key: string, windowMs: number): Promise<WindowHit>;
  /** The current window without counting a hit (null when there is none). */
  peek(key: string): Promise<WindowHit | null>;
  /** Entries held in this process (0 for Redis), for memory-hygiene checks. */
  size(): number;
  close(): Promise<void>;
}

export const RATE_LIMIT_STORE = Symbol('RATE_LIMIT_STORE');

interface Window {
  count: number;
  resetAt: number;
}

/** Expired windows are pruned every `pruneEveryMs`; at `maxEntries` the oldest are evicted first. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, Window>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly maxEntries = 100_000,
    pruneEveryMs = 60_000,
  ) {
    this.timer = setInterval(() => this.prune(), pruneEveryMs);
    this.timer.unref();
  }

  hit(key: string, windowMs: number, now = Date.now()): Promise<WindowHit> {
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      if (!window && this.windows.size >= this.maxEntries) this.evictOldest();
      window = { count: 0, resetAt: now + windowMs };
      this.windows.delete(key); // re-insert so Map order stays oldest-first
      this.windows.set(key, window);
    }
    window.count += 1;
    return Promise.resolve({ count: window.count, resetInMs: window.resetAt - now });
  }

  peek(key: string, now = Date.now()): Promise<WindowHit | null> {
    const window = this.windows.get(key);
    if (!window || window.resetAt <= now) return Promise.resolve(null);
    return Promise.resolve({ count: window.count, resetInMs: window.resetAt - now });
  }

  prune(now = Date.now()): void {
    for (const [key, window] of this.windows) {
      if (window.resetAt <= now) this.windows.delete(key);
    }
  }

  size(): number {
    return this.windows.size;
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.windows.clear();
    return Promise.resolve();
  }

  private evictOldest(): void {
    const excess = Math.max(1, Math.floor(this.maxEntries / 10));
    let removed = 0;
    for (const key of this.windows.keys()) {
      this.windows.delete(key);
      if ((removed += 1) >= excess) break;
    }
  }
}
