import { Injectable } from '@nestjs/common';

/**
 * Per-socket timers that close a socket when its JWT expires. Kept on this node only (socket.data
 * must stay serialisable for the Redis adapter); every entry is removed on disconnect.
 */
@Injectable()
export class SocketSessions {
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();

  /** (Re)arms the expiry of a socket's access token. */
  arm(socketId: string, expSeconds: number, onExpire: () => void): void {
    this.clear(socketId);
    const delay = Math.max(0, expSeconds * 1000 - Date.now());
    // setTimeout caps at ~24.8 days; JWT_TTL is at most a day.
    const timer = setTimeout(() => {
      this.expiryTimers.delete(socketId);
      onExpire();
    }, delay);
    timer.unref();
    this.expiryTimers.set(socketId, timer);
  }

  clear(socketId: string): void {
    const timer = this.expiryTimers.get(socketId);
    if (timer) clearTimeout(timer);
    this.expiryTimers.delete(socketId);
  }

  get size(): number {
    return this.expiryTimers.size;
  }
}
