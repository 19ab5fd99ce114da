/**
 * What the app server hears (contract §10): the log's entries turned into webhook events, and
 * which of them an endpoint asked for.
 *
 * Everything comes from the durable log. Chat messages, notifications, subscription changes and
 * deletions are there for the sockets already; presence changes and read positions are logged for
 * webhooks only (with no socket target), and only while an endpoint asks for them (see
 * {@link WebhookTaps}), so that they cost nothing otherwise.
 */
import { chatMessagePayload } from '../channels/delivery-plan.js';
import { SUBSCRIPTIONS_CHANGED } from '../channels/subscriptions.js';
import { CHAT_DELETED } from '../chat/server-chat.js';
import type { ChannelName, ConversationName, UserId } from '../channels/names.js';
import type { LoggedEvent, NewNotification, WebhookEndpoint, WebhookEventType } from '../store/store.js';

/** The log's webhook-only entries: reserved names no notify may use, addressed to no socket. */
export const PRESENCE_RECORD = 'presence';
export const READ_RECORD = 'chat:read';

/** Events Chatty emits to sockets for itself, which are no `notification.accepted`. */
const INTERNAL_EVENTS = new Set(['profile', SUBSCRIPTIONS_CHANGED, CHAT_DELETED, PRESENCE_RECORD, READ_RECORD]);

export interface WebhookEvent {
  /** The `webhook-id`: derived from the log entry, so the same on every retry and after a restart. */
  readonly id: string;
  readonly type: WebhookEventType;
  /** When it happened (ISO 8601): the log entry's time. */
  readonly timestamp: string;
  readonly data: Readonly<Record<string, unknown>>;
  /** The channels it concerns, for the endpoints' channel filters; empty: about users only. */
  readonly channels: readonly string[];
}

/** The log entry of a user's first socket connecting or last one leaving. */
export function presenceRecord(userId: UserId, status: 'online' | 'offline', createdAt: number): NewNotification {
  return { kind: 'notify', event: PRESENCE_RECORD, attributes: { userId, status }, target: { mode: 'users', names: [] }, add: [], createdAt };
}

/** The log entry of a read position that advanced. */
export function readRecord(channel: ConversationName, userId: UserId, messageId: number, readAt: number): NewNotification {
  return {
    kind: 'notify',
    event: READ_RECORD,
    attributes: { channel, userId, messageId, readAt: new Date(readAt).toISOString() },
    target: { mode: 'users', names: [] },
    add: [],
    createdAt: readAt,
  };
}

/** The webhook events one log entry makes, in order (a subscription change: one per user). */
export function webhookEventsOf(entry: LoggedEvent): WebhookEvent[] {
  const timestamp = new Date(entry.createdAt).toISOString();
  const id = `evt_${entry.id}`;
  if (entry.kind === 'chat') {
    // removed by moderation before it went out (a body is never empty otherwise): not sent
    if (entry.deletedAt !== undefined || entry.body === '') return [];
    const data = { ...chatMessagePayload(entry), offline: entry.offline ?? [], ...(entry.offlineTruncated ? { offlineTruncated: true } : {}) };
    return [{ id, type: 'chat.message', timestamp, data, channels: [entry.channel] }];
  }
  const attributes = entry.attributes;
  switch (entry.event) {
    case PRESENCE_RECORD:
      return [{ id, type: attributes.status === 'online' ? 'presence.online' : 'presence.offline', timestamp, data: { userId: attributes.userId }, channels: [] }];
    case READ_RECORD:
      return [{ id, type: 'chat.read', timestamp, data: attributes, channels: [attributes.channel as string] }];
    case CHAT_DELETED:
      return [{ id, type: 'chat.deleted', timestamp, data: attributes, channels: [attributes.channel as string] }];
    case SUBSCRIPTIONS_CHANGED: {
      const added = attributes.added as ChannelName[];
      const removed = attributes.removed as ChannelName[];
      const channels = [...added, ...removed];
      return entry.target.names.map((userId, i) => ({ id: `${id}_${i}`, type: 'subscription.changed', timestamp, data: { userId, added, removed }, channels }));
    }
    default:
      if (INTERNAL_EVENTS.has(entry.event)) return [];
      return [
        {
          id,
          type: 'notification.accepted',
          timestamp,
          data: { id: String(entry.id), event: entry.event, mode: entry.target.mode, targets: entry.target.names },
          channels: entry.target.mode === 'users' ? [] : entry.target.names,
        },
      ];
  }
}

/**
 * Whether `endpoint` asked for `event`: its type is one of the endpoint's events and, when the
 * endpoint filters channels, the event concerns one of them (events about users only, such as
 * presence, pass on their type alone).
 */
export function wants(endpoint: Pick<WebhookEndpoint, 'events' | 'channels'>, event: WebhookEvent): boolean {
  if (!endpoint.events.includes(event.type)) return false;
  if (endpoint.channels === null || event.channels.length === 0) return true;
  return event.channels.some((channel) => endpoint.channels!.some((pattern) => channelMatches(pattern, channel)));
}

/** `posts-12` matches itself; `posts-*` every channel starting with `posts-`. */
export function channelMatches(pattern: string, channel: string): boolean {
  return pattern.endsWith('*') ? channel.startsWith(pattern.slice(0, -1)) : pattern === channel;
}
