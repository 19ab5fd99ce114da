/**
 * Keeps live sockets' rooms in step with durable subscriptions (contract §4.3). A subscription
 * change moves the sockets already in the user's room; a socket still being admitted notices the
 * change through `version` and reads its channels again (see admission.ts), so a subscribe that
 * races a connect is never missed.
 */
import { userRoom, type ChannelName, type UserId } from '../names.js';
import type { ChattyIo } from './types.js';

export class Membership {
  private changes = 0;

  constructor(private readonly io: ChattyIo) {}

  /** Increases on every subscription change made through this node. */
  get version(): number {
    return this.changes;
  }

  /** Joins (or leaves) every live socket of `users` to (from) `channels`, before returning. */
  apply(users: readonly UserId[], channels: readonly ChannelName[], action: 'join' | 'leave'): void {
    this.changes++;
    const rooms = [...channels];
    for (const user of users) {
      const sockets = this.io.in(userRoom(user));
      if (action === 'join') sockets.socketsJoin(rooms);
      else sockets.socketsLeave(rooms);
    }
  }
}
