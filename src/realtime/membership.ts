/**
 * Keeps live sockets' rooms in step with durable subscriptions (contract §4.3). A subscription
 * change moves the sockets already in the user's room; a socket still being admitted notices the
 * change through its user's `version` and reads its channels again (see admission.ts), so a
 * subscribe that races a connect is never missed.
 */
import { userRoom, type ChannelName, type UserId } from '../channels/names.js';
import type { ChannelSizes } from './channel-sizes.js';
import type { ChattyIo } from './types.js';

/**
 * Versions are kept per bucket of users, not per user: memory stays fixed, and a change to another
 * user in the same bucket costs an admission at most one needless re-read.
 */
const BUCKETS = 4096;

export class Membership {
  private readonly versions = new Uint32Array(BUCKETS);

  constructor(
    private readonly io: ChattyIo,
    private readonly sizes: ChannelSizes,
  ) {}

  /** Changes whenever a subscription of `userId` (or of a user sharing its bucket) changes. */
  version(userId: UserId): number {
    return this.versions[bucketOf(userId)]!;
  }

  /** Joins (or leaves) every live socket of `users` to (from) `channels`, before returning. */
  apply(users: readonly UserId[], channels: readonly ChannelName[], action: 'join' | 'leave'): void {
    const rooms = [...channels];
    this.sizes.forget(channels);
    for (const user of users) {
      this.versions[bucketOf(user)]!++;
      const sockets = this.io.local.in(userRoom(user));
      if (action === 'join') sockets.socketsJoin(rooms);
      else sockets.socketsLeave(rooms);
    }
  }
}

/** FNV-1a: a fast, well-spread hash of the id. */
function bucketOf(userId: UserId): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % BUCKETS;
}
