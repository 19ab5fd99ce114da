/**
 * Each user's sockets on this node, counted: the cap on sockets per user (MAX_SOCKETS_PER_USER)
 * and the per-user flood control of `chat:send` and `chat:typing` (CHAT_SEND_RATE, TYPING_RATE)
 * live here, because a limit kept per socket is no limit for a user who opens a hundred of them.
 * A user's entry, buckets included, goes when their last socket does: memory follows the users
 * online, not every user ever seen.
 */
import type { Clock } from '../time/clock.js';
import type { UserId } from '../channels/names.js';
import { TokenBucket } from './token-bucket.js';

/** Per-user flood-controlled events. */
export type FloodKind = 'send' | 'typing';

export interface UserSocketLimits {
  /** Sockets per user on this node (0: unlimited). */
  maxSocketsPerUser: number;
  /** `chat:send` per user per second, bursts of twice that (0: unlimited). */
  chatSendPerSecond: number;
  /** `chat:typing` per user per second, bursts of twice that (0: unlimited). */
  typingPerSecond: number;
}

interface Entry {
  sockets: number;
  send?: TokenBucket;
  typing?: TokenBucket;
}

const MESSAGES: Record<FloodKind, string> = {
  send: 'Slow down: too many messages from this user',
  typing: 'Slow down: too many typing notices from this user',
};

export class UserSockets {
  private readonly users = new Map<UserId, Entry>();

  constructor(
    private readonly limits: UserSocketLimits,
    private readonly clock: Clock,
  ) {}

  /**
   * Takes a socket slot for `userId`; false when the user already has the maximum. Synchronous, so
   * that parallel handshakes are counted one after another and cannot overshoot.
   */
  claim(userId: UserId): boolean {
    const entry = this.users.get(userId);
    const max = this.limits.maxSocketsPerUser;
    if (max > 0 && (entry?.sockets ?? 0) >= max) return false;
    if (entry) entry.sockets++;
    else this.users.set(userId, { sockets: 1 });
    return true;
  }

  /** Gives a slot back; the user's last one forgets the user. */
  release(userId: UserId): void {
    const entry = this.users.get(userId);
    if (!entry) return;
    if (--entry.sockets <= 0) this.users.delete(userId);
  }

  /** The sockets `userId` holds on this node. */
  count(userId: UserId): number {
    return this.users.get(userId)?.sockets ?? 0;
  }

  /** Users with at least one socket on this node. */
  get size(): number {
    return this.users.size;
  }

  /**
   * Counts one `kind` event of `userId` against the user's bucket, or throws `rate_limited`. A user
   * with no socket here (the event of a socket that just left) has no bucket to count against.
   */
  take(userId: UserId, kind: FloodKind): void {
    const perSecond = kind === 'send' ? this.limits.chatSendPerSecond : this.limits.typingPerSecond;
    if (perSecond === 0) return;
    const entry = this.users.get(userId);
    if (!entry) return;
    (entry[kind] ??= new TokenBucket(perSecond, perSecond * 2, this.clock)).take(MESSAGES[kind]);
  }
}
