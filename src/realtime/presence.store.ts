/**
 * Which agents have at least one socket subscribed to a room. One node keeps it in memory; the
 * Redis store (multi-node) implements the same interface. Entries go away with their last socket,
 * so the size is bounded by live subscriptions.
 */
export interface PresenceStore {
  /** Returns true when this made the agent online in the room (its first socket). */
  add(roomId: string, agentId: string, socketId: string): Promise<boolean>;
  /** Returns true when this made the agent offline in the room (its last socket). */
  remove(roomId: string, agentId: string, socketId: string): Promise<boolean>;
  online(roomId: string): Promise<string[]>;
  /** Number of (room, agent) entries held by this node, for memory-hygiene checks. */
  size(): number;
  close(): Promise<void>;
}

export const PRESENCE_STORE = Symbol('PRESENCE_STORE');
/** Emitted (EventEmitter2) when a dead node's agent is found offline: the gateway tells the room. */
export const PRESENCE_EXPIRED = 'presence.expired';

export class MemoryPresenceStore implements PresenceStore {
  private readonly rooms = new Map<string, Map<string, Set<string>>>();

  add(roomId: string, agentId: string, socketId: string): Promise<boolean> {
    let agents = this.rooms.get(roomId);
    if (!agents) {
      agents = new Map();
      this.rooms.set(roomId, agents);
    }
    let sockets = agents.get(agentId);
    const first = !sockets;
    if (!sockets) {
      sockets = new Set();
      agents.set(agentId, sockets);
    }
    sockets.add(socketId);
    return Promise.resolve(first);
  }

  remove(roomId: string, agentId: string, socketId: string): Promise<boolean> {
    const agents = this.rooms.get(roomId);
    const sockets = agents?.get(agentId);
    if (!agents || !sockets || !sockets.delete(socketId)) return Promise.resolve(false);
    if (sockets.size > 0) return Promise.resolve(false);
    agents.delete(agentId);
    if (agents.size === 0) this.rooms.delete(roomId);
    return Promise.resolve(true);
  }

  online(roomId: string): Promise<string[]> {
    return Promise.resolve([...(this.rooms.get(roomId)?.keys() ?? [])]);
  }

  close(): Promise<void> {
    this.rooms.clear();
    return Promise.resolve();
  }

  /** Every room with the agents present in it, for re-publishing to a shared store. */
  entries(): Array<[string, string[]]> {
    return [...this.rooms].map(([roomId, agents]) => [roomId, [...agents.keys()]]);
  }

  size(): number {
    let entries = 0;
    for (const agents of this.rooms.values()) entries += agents.size;
    return entries;
  }
}
