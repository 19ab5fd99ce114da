/**
 * Sockets counted towards presence, and the announcements of a user's first and last socket.
 *
 * Counting is symmetric by construction: a socket is counted only if it is still connected when
 * its turn comes, it is marked `present` in the same synchronous step, and only a `present` socket
 * is uncounted when it leaves. Each user's steps run one after another, so an uncount always
 * follows its count, and peers hear `online` and `offline` in the order they happened, however
 * slow the store is to name the audience.
 */
import type { Logger } from '../logger.js';
import { userRoom, type ChannelName, type UserId } from '../channels/names.js';
import type { PresencePolicy } from './presence-policy.js';
import type { PresenceTracker } from './presence.js';
import { NO_TAPS, type WebhookTaps } from '../webhooks/taps.js';
import type { ChattyIo, ChattySocket } from './types.js';

export class PresenceSessions {
  /** The last step queued for each user with a step in flight (removed when it settles). */
  private readonly queues = new Map<UserId, Promise<void>>();

  constructor(
    private readonly io: ChattyIo,
    private readonly presence: PresenceTracker,
    private readonly policy: PresencePolicy,
    private readonly logger: Logger,
    private readonly webhooks: WebhookTaps = NO_TAPS,
  ) {}

  /**
   * Counts an admitted socket, announcing `online` when it is its user's first. Resolves false,
   * counting nothing, when the socket left before its turn.
   */
  enter(socket: ChattySocket, channels: readonly ChannelName[]): Promise<boolean> {
    const userId = socket.data.principal.sub;
    return this.serial(userId, async () => {
      if (!socket.connected) return false;
      // from here its disconnect uncounts it, in a step queued after this one
      socket.data.present = true;
      if (await this.presence.connected(userId)) await this.announce(userId, channels, 'online');
      return socket.connected;
    });
  }

  /**
   * Uncounts a socket that was counted, announcing `offline` when it was its user's last (unless
   * `announce` is false: at shutdown everyone leaves at once).
   */
  leave(socket: ChattySocket, channels: readonly ChannelName[], options: { announce: boolean } = { announce: true }): void {
    if (!socket.data.present) return;
    socket.data.present = false;
    const userId = socket.data.principal.sub;
    this.serial(userId, async () => {
      if ((await this.presence.disconnected(userId)) && options.announce) await this.announce(userId, channels, 'offline');
    }).catch((error: unknown) => this.logger.error({ err: error, userId }, 'presence update failed'));
  }

  /**
   * Announces `offline` for a user whose last sockets were on a node found dead (see
   * redis-presence.ts), after the steps already queued for the user here.
   */
  goneElsewhere(userId: UserId, channels: readonly ChannelName[]): Promise<void> {
    return this.serial(userId, () => this.announce(userId, channels, 'offline'));
  }

  private async announce(userId: UserId, channels: readonly ChannelName[], status: 'online' | 'offline'): Promise<void> {
    // logged first: a webhook hears of it even when nobody here may see the user's presence
    await this.webhooks.presence(userId, status);
    const rooms = await this.policy.audience(userId, channels);
    // an empty room list would mean "everyone": never broadcast without rooms
    if (rooms.length === 0) return;
    this.io.to(rooms).except(userRoom(userId)).emit('presence', { userId, status });
  }

  private serial<T>(userId: UserId, step: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(userId) ?? Promise.resolve()).then(step);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(userId, tail);
    void tail.then(() => {
      if (this.queues.get(userId) === tail) this.queues.delete(userId);
    });
    return run;
  }
}
