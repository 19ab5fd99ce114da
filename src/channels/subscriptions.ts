/**
 * Subscriptions (contract §4.3): durable user → channel rows, with every live socket moved into
 * (out of) the rooms before the caller hears back.
 */
import { ChattyError } from '../errors.js';
import { GroupCommit } from '../event-log/group-commit.js';
import { channelsOfDocument } from './jsonapi-channels.js';
import { labelsOfDocument } from '../profiles/profile-rules.js';
import { parseMethod, type SubscriptionMode } from './method-query.js';
import type { ChannelName, UserId } from './names.js';
import type { Membership } from '../realtime/membership.js';
import { pairCount, type ChangedPairs, type Store, type SubscriptionChange as StoredChange } from '../store/store.js';
import type { EventLog } from '../event-log/event-log.js';
import type { Clock } from '../time/clock.js';

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

/** The event that tells a user's sockets what the app server changed (contract §5). */
export const SUBSCRIPTIONS_CHANGED = 'subscriptions:changed';

export interface SubscriptionsOptions {
  store: Store;
  membership: Membership;
  /** Where `subscriptions:changed` is logged and delivered from, like a notification. */
  eventLog: EventLog;
  clock: Clock;
  /** The most (user, channel) pairs one request may change (MAX_SUBSCRIPTION_PAIRS). */
  maxPairs: number;
  /**
   * Many nodes: the store logs each change with its commit, and every node (this one too) moves
   * its sockets when its tail of the log reaches it; this waits for this node's tail.
   */
  throughLog?: () => Promise<void>;
}

/**
 * Changes are group-committed like the event log, so many small subscribe calls share one fsync.
 * Each batch moves its users' live sockets right after the commit, before any caller hears back.
 * Then each user whose channels changed is told so by a `subscriptions:changed` event in the log:
 * it follows the joins, and a socket that was away gets it on replay.
 */
export class Subscriptions {
  private readonly batches = new GroupCommit<StoredChange, ChangedPairs>((changes) => this.commitAndMove(changes));
  /** Calls not finished yet: all their pieces committed and their events logged. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly options: SubscriptionsOptions) {}

  change(action: SubscriptionAction, method: unknown, document: unknown): Promise<SubscriptionChange> {
    const call = this.changeNow(action, method, document);
    const settled = call.catch(() => {}).finally(() => this.inFlight.delete(settled));
    this.inFlight.add(settled);
    return call;
  }

  /** Waits for every call accepted so far to finish: its pieces committed, its users told. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private async changeNow(action: SubscriptionAction, method: unknown, document: unknown): Promise<SubscriptionChange> {
    const { mode, names } = parseMethod(method, SUBSCRIPTION_MODES);
    const channels = channelsOfDocument(document);
    const users: UserId[] = mode === 'users' ? names : await this.options.store.subscribersOfAny(names);
    const { maxPairs } = this.options;
    if (users.length * channels.length > maxPairs) {
      throw new ChattyError(
        'validation_failed',
        `${users.length} users × ${channels.length} channels is more than the ${maxPairs} (user, channel) pairs one request may change (MAX_SUBSCRIPTION_PAIRS); split it`,
        { pointer: '' },
      );
    }
    const changed = new Map<UserId, ChannelName[]>();
    try {
      // one piece at a time, each committed in a turn of its own: a request of a million pairs
      // holds the event loop for one piece, not for seconds (SQLite commits synchronously)
      for (const piece of pieces(users, channels, PIECE_PAIRS)) {
        for (const [user, mine] of await this.batches.add({ action, ...piece })) {
          const earlier = changed.get(user);
          if (earlier) earlier.push(...mine);
          else changed.set(user, [...mine]);
        }
      }
    } catch (error) {
      // the pieces committed before the failure did change those users' channels: say so
      await this.announce(action, changed, channels).catch(() => {});
      throw error;
    }
    await this.announce(action, changed, channels);
    // contract §11: a resource's title (or name) labels its channel, unless a PUT chose one
    if (action === 'subscribe') {
      const labels = labelsOfDocument(document);
      if (labels.size > 0) await this.options.store.setLabels([...labels].map(([channel, label]) => ({ channel, label })), 'document');
    }
    return { channels, users: users.length, changed: pairCount(changed) };
  }

  private async commitAndMove(changes: StoredChange[]): Promise<ChangedPairs[]> {
    const results = await this.options.store.changeSubscriptions(changes);
    if (this.options.throughLog) await this.options.throughLog().catch(() => {});
    else for (const change of changes) applyChange(this.options.membership, change);
    return results;
  }

  /**
   * Logs `subscriptions:changed` for the users of `changed`: one event for all the users whose
   * channels changed alike (the usual case: a call names the same channels for everyone), so that
   * subscribing ten thousand users costs one event, not ten thousand.
   */
  private async announce(action: SubscriptionAction, changed: ReadonlyMap<UserId, readonly ChannelName[]>, all: readonly ChannelName[]): Promise<void> {
    const alike = new Map<string, { users: UserId[]; channels: readonly ChannelName[] }>();
    for (const [user, channels] of changed) {
      // a user who got every channel of the call (the usual case) is keyed without a join of them
      const key = channels.length === all.length ? '' : `\n${channels.join('\n')}`;
      const group = alike.get(key);
      if (group) group.users.push(user);
      else alike.set(key, { users: [user], channels });
    }
    const createdAt = this.options.clock.now();
    await Promise.all(
      [...alike.values()].map(({ users, channels }) =>
        this.options.eventLog.append({
          kind: 'notify',
          event: SUBSCRIPTIONS_CHANGED,
          attributes: action === 'subscribe' ? { added: channels, removed: [] } : { added: [], removed: channels },
          target: { mode: 'users', names: users },
          add: [],
          createdAt,
        }),
      ),
    );
  }
}

/** Moves the live sockets of a committed change. */
export function applyChange(membership: Membership, { users, channels, action }: StoredChange): void {
  membership.apply(users, channels, action === 'subscribe' ? 'join' : 'leave');
}
