/**
 * Who may see whose presence: one rule, for `presence` announcements and `presence:query` alike.
 * A user's presence is visible to
 *
 * - (a) the members of a group channel both are subscribed to: announced only in channels with at
 *   most PRESENCE_LIMIT subscribers, answered by `presence:query` only for channels with at most
 *   PRESENCE_QUERY_LIMIT;
 * - (b) the other participant of a private conversation holding at least one message: announced to
 *   at most PRESENCE_LIMIT such partners (the first by conversation name), and answered by
 *   `presence:query {to}` or `{channel: "dm:a:b"}`.
 *
 * Nobody else: naming a user in a `dm:` channel proves no contact, so a conversation without a
 * message answers `not_member`, as if it were somebody else's.
 */
import { ChattyError } from '../errors.js';
import { dmParticipants, userRoom, type ChannelName, type ConversationName, type RoomName, type UserId } from '../channels/names.js';
import type { Store } from '../store/store.js';
import type { ChannelSizes } from './channel-sizes.js';
import type { PresenceTracker } from './presence.js';

export interface PresencePolicyDeps {
  store: Store;
  presence: PresenceTracker;
  sizes: ChannelSizes;
  /** PRESENCE_LIMIT: announce in channels of at most this many subscribers, to at most this many partners (0: never announce). */
  announceLimit: number;
  /** PRESENCE_QUERY_LIMIT: `presence:query` answers for channels of at most this many subscribers. */
  queryLimit: number;
}

export class PresencePolicy {
  constructor(private readonly deps: PresencePolicyDeps) {}

  /** The rooms an announcement about `userId` (subscribed to `channels`) goes to; empty for none. */
  async audience(userId: UserId, channels: readonly ChannelName[]): Promise<RoomName[]> {
    const { store, sizes, announceLimit } = this.deps;
    if (announceLimit === 0) return [];
    const [small, conversations] = await Promise.all([
      channels.length > 0 ? sizes.atMost(channels, announceLimit) : [],
      store.privateConversationsOf(userId, announceLimit),
    ]);
    const partners = conversations.map((conversation) => partnerIn(conversation, userId)).filter((partner) => partner !== undefined);
    return [...small, ...partners.map(userRoom)];
  }

  /**
   * The online users of `conversation` that `viewer` may see, sorted. The caller has checked that
   * the viewer is a member (subscribed, or a participant of the `dm:`).
   */
  async online(viewer: UserId, conversation: ConversationName): Promise<UserId[]> {
    const { store, presence, sizes, queryLimit } = this.deps;
    const pair = dmParticipants(conversation);
    if (pair) {
      if ((await store.history(conversation, undefined, 1)).length === 0) {
        throw new ChattyError('not_member', `You have no conversation with "${partnerIn(conversation, viewer) ?? ''}" yet`);
      }
      const counts = await presence.connectionsOf(pair);
      return pair.filter((_, i) => counts[i]! > 0).sort();
    }
    if ((await sizes.atMost([conversation], queryLimit)).length === 0) {
      throw new ChattyError('validation_failed', `channel: presence:query answers for channels of at most ${queryLimit} subscribers (PRESENCE_QUERY_LIMIT)`);
    }
    // the members counted online anywhere (the tracker counts every node's sockets on many nodes)
    const members = await store.subscribersOf(conversation, { size: queryLimit });
    const counts = await presence.connectionsOf(members);
    return members.filter((_, i) => counts[i]! > 0).sort();
  }
}

/** The other participant of a `dm:` conversation of `userId`, if it is one. */
function partnerIn(conversation: ConversationName, userId: UserId): UserId | undefined {
  const pair = dmParticipants(conversation);
  if (!pair || !pair.includes(userId)) return undefined;
  return pair[0] === userId ? pair[1] : pair[0];
}
