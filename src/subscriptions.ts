/**
 * Subscriptions (contract §4.3): durable user → channel rows, with every live socket moved into
 * (out of) the rooms before the caller hears back.
 */
import { channelsOfDocument } from './jsonapi-channels.js';
import { parseMethod, type SubscriptionMode } from './method-query.js';
import type { ChannelName, UserId } from './names.js';
import type { Membership } from './realtime/membership.js';
import type { Store } from './store/store.js';

const SUBSCRIPTION_MODES: readonly SubscriptionMode[] = ['channels', 'users'];

export type SubscriptionAction = 'subscribe' | 'unsubscribe';

export interface SubscriptionChange {
  channels: ChannelName[];
  /** Users affected. */
  users: number;
  /** (user, channel) pairs actually added or removed. */
  changed: number;
}

export class Subscriptions {
  constructor(
    private readonly store: Store,
    private readonly membership: Membership,
  ) {}

  async change(action: SubscriptionAction, method: unknown, document: unknown): Promise<SubscriptionChange> {
    const { mode, names } = parseMethod(method, SUBSCRIPTION_MODES);
    const channels = channelsOfDocument(document);
    const users: UserId[] = mode === 'users' ? names : await this.store.subscribersOfAny(names);
    const changed =
      users.length === 0 ? 0 : action === 'subscribe' ? await this.store.subscribe(users, channels) : await this.store.unsubscribe(users, channels);
    this.membership.apply(users, channels, action === 'subscribe' ? 'join' : 'leave');
    return { channels, users: users.length, changed };
  }
}
