import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { MemoryPresenceStore, type PresenceStore } from './presence.store';

const LEASE_MS = 15_000;
const HEARTBEAT_MS = 5_000;
const LIVE_NODES_TTL_MS = 1_000;

export interface PresenceExpiry {
  roomId: string;
  agentId: string;
}

/**
 * Cluster-wide presence. Each node keeps its own sockets in memory (the truth for this node) and
 * mirrors "which agents are here, per room" into Redis sets under a node lease that it renews every
 * 5 s. A node that dies stops renewing; within 15 s its lease expires and the next sweep by any
 * live node drops its sets and reports its agents offline (unless another node still has them).
 * If Redis is away, a node answers from its own sockets and re-publishes them when Redis returns.
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly logger = new Logger(RedisPresenceStore.name);
  private readonly local = new MemoryPresenceStore();
  private readonly timer: NodeJS.Timeout;
  private beating: Promise<void> = Promise.resolve();
  private liveCache: { at: number; nodes: string[] } | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly nodeId: string,
    private readonly onExpired: (expiry: PresenceExpiry) => void,
  ) {
    this.timer = setInterval(() => {
      this.beating = this.heartbeat();
    }, HEARTBEAT_MS);
    this.timer.unref();
    // Announce this node as soon as Redis is reachable, and again after every reconnect.
    this.redis.on('ready', () => {
      this.beating = this.heartbeat();
    });
    if (this.redis.status === 'ready') this.beating = this.heartbeat();
  }

  async add(roomId: string, agentId: string, socketId: string): Promise<boolean> {
    if (!(await this.local.add(roomId, agentId, socketId))) return false;
    try {
      const elsewhere = await this.onlineElsewhere(roomId, agentId);
      await this.redis
        .multi()
        .sadd(this.roomKey(roomId, this.nodeId), agentId)
        .sadd(this.roomsKey(this.nodeId), roomId)
        .exec();
      return !elsewhere;
    } catch (error) {
      this.degraded(error);
      return true;
    }
  }

  async remove(roomId: string, agentId: string, socketId: string): Promise<boolean> {
    if (!(await this.local.remove(roomId, agentId, socketId))) return false;
    try {
      await this.redis.srem(this.roomKey(roomId, this.nodeId), agentId);
      if ((await this.local.online(roomId)).length === 0)
        await this.redis.srem(this.roomsKey(this.nodeId), roomId);
      return !(await this.onlineElsewhere(roomId, agentId));
    } catch (error) {
      this.degraded(error);
      return true;
    }
  }

  async online(roomId: string): Promise<string[]> {
    const here = await this.local.online(roomId);
    try {
      const nodes = (await this.liveNodes()).filter((node) => node !== this.nodeId);
      if (nodes.length === 0) return here;
      const pipeline = this.redis.pipeline();
      for (const node of nodes) pipeline.smembers(this.roomKey(roomId, node));
      const results = (await pipeline.exec()) ?? [];
      const all = new Set(here);
      for (const [error, members] of results)
        if (!error) for (const id of members as string[]) all.add(id);
      return [...all];
    } catch (error) {
      this.degraded(error);
      return here;
    }
  }

  size(): number {
    return this.local.size();
  }

  /** Graceful stop: withdraw this node's lease and sets (its sockets are closed by then). */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.beating.catch(() => undefined);
    try {
      const rooms = await this.redis.smembers(this.roomsKey(this.nodeId));
      await this.redis
        .multi()
        .del(
          ...rooms.map((room) => this.roomKey(room, this.nodeId)),
          this.roomsKey(this.nodeId),
          this.leaseKey(this.nodeId),
        )
        .srem(this.nodesKey(), this.nodeId)
        .exec();
    } catch {
      /* Redis away: the lease expires on its own */
    }
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async heartbeat(): Promise<void> {
    try {
      const renewed = await this.redis.set(this.leaseKey(this.nodeId), '1', 'PX', LEASE_MS, 'XX');
      if (renewed === null) await this.republish();
      await this.sweep();
    } catch (error) {
      this.degraded(error);
    }
  }

  /** First beat, or Redis lost our keys (restart, expiry during an outage): publish everything. */
  private async republish(): Promise<void> {
    const multi = this.redis
      .multi()
      .set(this.leaseKey(this.nodeId), '1', 'PX', LEASE_MS)
      .sadd(this.nodesKey(), this.nodeId);
    for (const [roomId, agentIds] of this.local.entries()) {
      multi
        .sadd(this.roomsKey(this.nodeId), roomId)
        .sadd(this.roomKey(roomId, this.nodeId), ...agentIds);
    }
    await multi.exec();
  }

  /** Drops the sets of nodes whose lease expired and reports their agents offline. */
  private async sweep(): Promise<void> {
    const nodes = await this.redis.smembers(this.nodesKey());
    for (const node of nodes) {
      if (node === this.nodeId || (await this.redis.exists(this.leaseKey(node)))) continue;
      // One sweeper per dead node.
      if (
        (await this.redis.set(
          `${this.prefix}presence:sweep:${node}`,
          this.nodeId,
          'PX',
          LEASE_MS,
          'NX',
        )) === null
      )
        continue;
      const rooms = await this.redis.smembers(this.roomsKey(node));
      for (const roomId of rooms) {
        const agents = await this.redis.smembers(this.roomKey(roomId, node));
        await this.redis.del(this.roomKey(roomId, node));
        for (const agentId of agents) {
          const stillHere = (await this.local.online(roomId)).includes(agentId);
          if (!stillHere && !(await this.onlineElsewhere(roomId, agentId)))
            this.onExpired({ roomId, agentId });
        }
      }
      await this.redis.multi().del(this.roomsKey(node)).srem(this.nodesKey(), node).exec();
      this.logger.warn(
        `node ${node} stopped renewing its presence lease: its agents were marked offline`,
      );
    }
  }

  private async onlineElsewhere(roomId: string, agentId: string): Promise<boolean> {
    const nodes = (await this.liveNodes()).filter((node) => node !== this.nodeId);
    if (nodes.length === 0) return false;
    const pipeline = this.redis.pipeline();
    for (const node of nodes) pipeline.sismember(this.roomKey(roomId, node), agentId);
    const results = (await pipeline.exec()) ?? [];
    return results.some(([error, member]) => !error && member === 1);
  }

  /** Live nodes change on a scale of seconds: one lookup serves a second of adds and removes. */
  private async liveNodes(now = Date.now()): Promise<string[]> {
    if (this.liveCache && now - this.liveCache.at < LIVE_NODES_TTL_MS) return this.liveCache.nodes;
    const nodes = await this.findLiveNodes();
    this.liveCache = { at: now, nodes };
    return nodes;
  }

  private async findLiveNodes(): Promise<string[]> {
    const nodes = await this.redis.smembers(this.nodesKey());
    if (nodes.length === 0) return nodes;
    const leases = await this.redis.mget(...nodes.map((node) => this.leaseKey(node)));
    return nodes.filter((_, i) => leases[i] !== null);
  }

  private degraded(error: unknown): void {
    this.logger.debug(`presence falls back to this node's sockets: ${(error as Error).message}`);
  }

  private nodesKey(): string {
    return `${this.prefix}presence:nodes`;
  }
  private leaseKey(node: string): string {
    return `${this.prefix}presence:lease:${node}`;
  }
  private roomsKey(node: string): string {
    return `${this.prefix}presence:rooms:${node}`;
  }
  private roomKey(roomId: string, node: string): string {
    return `${this.prefix}presence:room:${roomId}:${node}`;
  }
}
