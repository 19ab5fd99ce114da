/**
 * Subscriptions (contract §4.3): durable user → channel rows, with every live socket moved into
 * (out of) the rooms before the caller hears back.
 */
import { channelsOfDocument } from './jsonapi-channels.js';
import { parseMethod, type SubscriptionMode } from './method-query.js';
import type { ChannelName, UserId } from './names.js';
import type { Membership } from './realtime/membership.js';
import type { Store, SubscriptionChange as StoredChange } from './store/store.js';

const SUBSCRIPTION_MODES: readonly SubscriptionMode[] = ['channels', 'users'];

export type SubscriptionAction = 'subscribe' | 'unsubscribe';

export interface SubscriptionChange {
  channels: ChannelName[];
  /** Users affected. */
  users: number;
  /** (user, channel) pairs actually added or removed. */
  changed: number;
}

interface Pending extends StoredChange {
  resolve: (changed: number) => void;
  reject: (error: unknown) => void;
}

/**
 * Changes are group-committed like the event log: every request that arrives while a commit runs
 * joins the next transaction, so many small subscribe calls share one fsync. Each change moves its
 * users' live sockets right after the commit, before its caller hears back.
 */
export class Subscriptions {
  private queue: Pending[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly membership: Membership,
  ) {}

  async change(action: SubscriptionAction, method: unknown, document: unknown): Promise<SubscriptionChange> {
    const { mode, names } = parseMethod(method, SUBSCRIPTION_MODES);
    const channels = channelsOfDocument(document);
    const users: UserId[] = mode === 'users' ? names : await this.store.subscribersOfAny(names);
    const changed = users.length === 0 ? 0 : await this.commit({ action, users, channels });
    return { channels, users: users.length, changed };
  }

  private commit(change: StoredChange): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...change, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      // batches run one after another, so rooms follow the database in commit order
      setImmediate(() => {
        this.flushing = this.flushing.then(() => this.flush());
      });
    });
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    const batch = this.queue;
    this.queue = [];
    let counts: number[];
    try {
      counts = await this.store.changeSubscriptions(batch.map(({ action, users, channels }) => ({ action, users, channels })));
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const [i, pending] of batch.entries()) {
      this.membership.apply(pending.users, pending.channels, pending.action === 'subscribe' ? 'join' : 'leave');
      pending.resolve(counts[i]!);
    }
  }
}
