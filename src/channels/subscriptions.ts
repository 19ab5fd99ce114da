/**
 * Subscriptions (contract §4.3): durable user → channel rows, with every live socket moved into
 * (out of) the rooms before the caller hears back.
 */
import { ChattyError } from '../errors.js';
import { GroupCommit } from '../event-log/group-commit.js';
import { channelsOfDocument } from './jsonapi-channels.js';
import { parseMethod, type SubscriptionMode } from './method-query.js';
import type { ChannelName, UserId } from './names.js';
import type { Membership } from '../realtime/membership.js';
import type { Store, SubscriptionChange as StoredChange } from '../store/store.js';

const SUBSCRIPTION_MODES: readonly SubscriptionMode[] = ['channels', 'users'];

/**
 * The most (user, channel) pairs committed in one transaction. A bigger request is committed in
 * pieces, one after another: its sockets have all moved before it answers, but a failure midway
 * leaves the earlier pieces applied (a retry of the same request completes it: subscribing and
 * unsubscribing are idempotent).
 */
export const PIECE_PAIRS = 5_000;

/** `users × channels` cut into pieces of at most `size` pairs: runs of users, and of channels when one user's are too many. */
export function* pieces(users: readonly UserId[], channels: readonly ChannelName[], size: number): Generator<{ users: UserId[]; channels: ChannelName[] }> {
  if (users.length === 0 || channels.length === 0) return;
  const channelsPerPiece = Math.min(channels.length, size);
  const usersPerPiece = Math.max(1, Math.floor(size / channelsPerPiece));
  for (let c = 0; c < channels.length; c += channelsPerPiece) {
    const someChannels = channels.slice(c, c + channelsPerPiece);
    for (let u = 0; u < users.length; u += usersPerPiece) yield { users: users.slice(u, u + usersPerPiece), channels: someChannels };
  }
}

export type SubscriptionAction = 'subscribe' | 'unsubscribe';

export interface SubscriptionChange {
  channels: ChannelName[];
  /** Users affected. */
  users: number;
  /** (user, channel) pairs actually added or removed. */
  changed: number;
}

/**
 * Changes are group-committed like the event log, so many small subscribe calls share one fsync.
 * Each batch moves its users' live sockets right after the commit, before any caller hears back.
 */
export class Subscriptions {
  private readonly batches = new GroupCommit<StoredChange, number>((changes) => this.commitAndMove(changes));

  constructor(
    private readonly store: Store,
    private readonly membership: Membership,
    /** The most (user, channel) pairs one request may change (MAX_SUBSCRIPTION_PAIRS). */
    private readonly maxPairs: number,
    /**
     * Many nodes: the store logs each change with its commit, and every node (this one too) moves
     * its sockets when its tail of the log reaches it; this waits for this node's tail.
     */
    private readonly throughLog?: () => Promise<void>,
  ) {}

  async change(action: SubscriptionAction, method: unknown, document: unknown): Promise<SubscriptionChange> {
    const { mode, names } = parseMethod(method, SUBSCRIPTION_MODES);
    const channels = channelsOfDocument(document);
    const users: UserId[] = mode === 'users' ? names : await this.store.subscribersOfAny(names);
    if (users.length * channels.length > this.maxPairs) {
      throw new ChattyError(
        'validation_failed',
        `${users.length} users × ${channels.length} channels is more than the ${this.maxPairs} (user, channel) pairs one request may change (MAX_SUBSCRIPTION_PAIRS); split it`,
        { pointer: '' },
      );
    }
    let changed = 0;
    // one piece at a time, each committed in a turn of its own: a request of a million pairs holds
    // the event loop for one piece, not for seconds (SQLite commits synchronously)
    for (const piece of pieces(users, channels, PIECE_PAIRS)) changed += await this.batches.add({ action, ...piece });
    return { channels, users: users.length, changed };
  }

  /** Waits for every change accepted so far to be committed. */
  async drain(): Promise<void> {
    await this.batches.drain();
  }

  private async commitAndMove(changes: StoredChange[]): Promise<number[]> {
    const counts = await this.store.changeSubscriptions(changes);
    if (this.throughLog) await this.throughLog().catch(() => {});
    else for (const change of changes) applyChange(this.membership, change);
    return counts;
  }
}

/** Moves the live sockets of a committed change. */
export function applyChange(membership: Membership, { users, channels, action }: StoredChange): void {
  membership.apply(users, channels, action === 'subscribe' ? 'join' : 'leave');
}
