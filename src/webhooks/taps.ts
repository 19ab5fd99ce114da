/**
 * What the log records for webhooks only (contract §10), and only while an enabled endpoint asks
 * for it: presence changes, read positions that advanced, and the members offline when a chat
 * message was accepted. Without such an endpoint every tap returns at once, costing nothing.
 */
import { dmParticipants, type ConversationName, type UserId } from '../channels/names.js';
import type { EventLog } from '../event-log/event-log.js';
import type { PresenceTracker } from '../realtime/presence.js';
import type { Clock } from '../time/clock.js';
import type { Store, WebhookEventType } from '../store/store.js';
import { presenceRecord, readRecord } from './webhook-events.js';

/** Members looked at per page when finding who is offline. */
const MEMBER_PAGE = 1000;

export interface OfflineMembers {
  readonly offline: UserId[];
  readonly offlineTruncated?: true;
}

export interface WebhookTaps {
  /**
   * The members of `channel` with no socket online, by id, at most `limit` of them (and whether
   * there were more), when an endpoint asks for `chat.message`.
   */
  offlineMembers(channel: ConversationName): Promise<OfflineMembers | undefined>;
  /** A user's first socket connected, or their last one left. */
  presence(userId: UserId, status: 'online' | 'offline'): Promise<void>;
  /** A read position advanced. */
  read(channel: ConversationName, userId: UserId, messageId: number, readAt: number): Promise<void>;
}

/** No webhooks: nothing recorded. */
export const NO_TAPS: WebhookTaps = {
  offlineMembers: async () => undefined,
  presence: async () => {},
  read: async () => {},
};

export function webhookTaps(deps: {
  wants: (type: WebhookEventType) => boolean;
  store: Store;
  eventLog: EventLog;
  presence: PresenceTracker;
  clock: Clock;
  /** WEBHOOK_OFFLINE_LIMIT: the scan of a big channel stops there. */
  offlineLimit: number;
}): WebhookTaps {
  const { wants, store, eventLog, presence, clock, offlineLimit } = deps;
  return {
    async offlineMembers(channel) {
      if (!wants('chat.message')) return undefined;
      const offline: UserId[] = [];
      const collect = async (members: readonly UserId[]) => {
        const counts = await presence.connectionsOf(members);
        members.forEach((member, i) => counts[i] === 0 && offline.push(member));
      };
      const pair = dmParticipants(channel);
      if (pair) {
        await collect([...new Set(pair)]);
        return { offline };
      }
      for (let after: UserId | undefined; ; ) {
        const members = await store.subscribersOf(channel, { ...(after !== undefined ? { after } : {}), size: MEMBER_PAGE });
        await collect(members);
        if (offline.length > offlineLimit) return { offline: offline.slice(0, offlineLimit), offlineTruncated: true };
        if (members.length < MEMBER_PAGE) return { offline };
        after = members[members.length - 1];
      }
    },
    async presence(userId, status) {
      if (wants(status === 'online' ? 'presence.online' : 'presence.offline')) await eventLog.append(presenceRecord(userId, status, clock.now()));
    },
    async read(channel, userId, messageId, readAt) {
      if (wants('chat.read')) await eventLog.append(readRecord(channel, userId, messageId, readAt));
    },
  };
}
