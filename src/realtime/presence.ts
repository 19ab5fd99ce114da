/**
 * Who is online, counted in sockets so that a second tab does not flip a user offline when the
 * first one closes. The interface is asynchronous so that a shared (Redis) count can replace the
 * in-process one for several nodes.
 */
import type { UserId } from '../channels/names.js';

export interface PresenceTracker {
  /** Counts a new socket; true when it is the user's first. */
  connected(userId: UserId): Promise<boolean>;
  /** Counts a closed socket; true when it was the user's last. */
  disconnected(userId: UserId): Promise<boolean>;
  connections(userId: UserId): Promise<number>;
  /** `connections` of each user, in order. */
  connectionsOf(userIds: readonly UserId[]): Promise<number[]>;
  /** Online users ordered by id, after `after`, at most `size`. */
  online(page: { after?: UserId; size: number }): Promise<{ userId: UserId; connections: number }[]>;
}

/** The single-process tracker. */
export class LocalPresence implements PresenceTracker {
  private readonly counts = new Map<UserId, number>();

  async connected(userId: UserId): Promise<boolean> {
    const count = (this.counts.get(userId) ?? 0) + 1;
    this.counts.set(userId, count);
    return count === 1;
  }

  async disconnected(userId: UserId): Promise<boolean> {
    const count = (this.counts.get(userId) ?? 0) - 1;
    if (count > 0) {
      this.counts.set(userId, count);
      return false;
    }
    this.counts.delete(userId);
    return count === 0;
  }

  async connections(userId: UserId): Promise<number> {
    return this.counts.get(userId) ?? 0;
  }

  async connectionsOf(userIds: readonly UserId[]): Promise<number[]> {
    return userIds.map((userId) => this.counts.get(userId) ?? 0);
  }

  async online(page: { after?: UserId; size: number }): Promise<{ userId: UserId; connections: number }[]> {
    const after = page.after;
    return [...this.counts.entries()]
      .filter(([userId]) => after === undefined || userId > after)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, page.size)
      .map(([userId, connections]) => ({ userId, connections }));
  }
}
