/**
 * Who receives an event, and what they receive (contract §4.2, §5, §6). Pure: the live path turns
 * a plan into Socket.IO room emits; replay applies the same rules to one user's subscriptions, so a
 * replayed copy is exactly the live one.
 */
import { dmParticipants, userRoom, type ChannelName, type RoomName, type UserId } from './names.js';
import type { ChatMessage, LoggedEvent, LoggedNotification, NewEvent, NotifyTarget, StoredEvent } from '../store/store.js';

/** One Socket.IO broadcast: to every socket in `rooms` and in none of `except`. */
export interface RoomEmit {
  readonly rooms: readonly RoomName[];
  readonly except: readonly RoomName[];
  /** The channel this copy stands for, in `channels` modes. */
  readonly origin?: ChannelName;
}

/** What a socket receives: `socket.emit(name, ...args)`. */
export interface Delivery {
  readonly name: string;
  readonly args: readonly unknown[];
}

export interface NotificationMeta {
  id: number;
  time: string;
  origin?: ChannelName;
}

export interface ChatMessagePayload {
  id: number;
  channel: string;
  /** The sender; null for a system message posted through the control API. */
  from: UserId | null;
  /** In history only: when moderation removed it (its body is then empty). */
  deletedAt?: string;
  body: string;
  sentAt: string;
  clientId: string | null;
}

/**
 * The broadcasts for a notification. `channels-efficient` excludes the earlier channels from each
 * later emit, so a socket in several listed channels gets exactly one copy, from the first.
 */
export function planNotify(target: NotifyTarget): RoomEmit[] {
  const names = target.names;
  switch (target.mode) {
    case 'channels':
      return names.map((channel) => ({ rooms: [channel], except: [], origin: channel }));
    case 'channels-efficient':
      return names.map((channel, i) => ({ rooms: [channel], except: names.slice(0, i), origin: channel }));
    case 'users':
      return [{ rooms: names.map(userRoom), except: [] }];
  }
}

/** The arguments of a notification's emit: `(payload, meta)`. */
export function notificationArgs(event: LoggedNotification, origin: ChannelName | undefined): [Record<string, unknown>, NotificationMeta] {
  const time = new Date(event.createdAt).toISOString();
  let payload: Record<string, unknown> = event.attributes as Record<string, unknown>;
  if (event.add.length > 0) {
    payload = { ...payload };
    if (event.add.includes('origin') && origin !== undefined) payload.origin = origin;
    if (event.add.includes('date-time')) payload['date-time'] = time;
  }
  const meta: NotificationMeta = origin === undefined ? { id: event.id, time } : { id: event.id, time, origin };
  return [payload, meta];
}

export function chatMessagePayload(message: ChatMessage): ChatMessagePayload {
  return {
    id: message.id,
    channel: message.channel,
    // a system message (posted through the control API without a sender) is stored from ''
    from: message.from === '' ? null : message.from,
    body: message.body,
    sentAt: new Date(message.createdAt).toISOString(),
    clientId: message.clientId,
    ...(message.deletedAt !== undefined ? { deletedAt: new Date(message.deletedAt).toISOString() } : {}),
  };
}

/**
 * Every room an event is addressed to, for the log's replay index: a socket in none of them can
 * never have received it.
 */
export function roomsOf(event: NewEvent | StoredEvent): RoomName[] {
  if (event.kind === 'chat') return chatRooms(event);
  return event.target.mode === 'users' ? event.target.names.map(userRoom) : [...event.target.names];
}

/** The rooms a chat message goes to: its channel, or both users of a private conversation. */
export function chatRooms(message: { channel: string }): RoomName[] {
  const pair = dmParticipants(message.channel);
  return pair ? [...new Set(pair.map(userRoom))] : [message.channel];
}

/**
 * What one user's socket would have received live for `event`, given the user's channels at replay
 * time. Used by replay; must agree with {@link planNotify} and {@link chatRooms}.
 */
export function copiesFor(event: LoggedEvent, userId: UserId, channels: ReadonlySet<ChannelName>): Delivery[] {
  return copyOrigins(event, userId, channels).map((origin) =>
    event.kind === 'chat' ? { name: 'chat:message', args: [chatMessagePayload(event)] } : { name: event.event, args: notificationArgs(event, origin) },
  );
}

/**
 * How many copies of `event` one user's socket receives, as the channel each stands for
 * (undefined for a `users`-mode notification or a chat message): none, one, or in `channels`
 * mode one per listed channel of the user's.
 */
export function copyOrigins(event: LoggedEvent | StoredEvent, userId: UserId, channels: ReadonlySet<ChannelName>): (ChannelName | undefined)[] {
  if (event.kind === 'chat') {
    // removed by moderation: replay sends its chat:deleted, never the message
    if (event.deletedAt !== undefined) return [];
    const pair = dmParticipants(event.channel);
    const member = pair ? pair.includes(userId) : channels.has(event.channel);
    return member ? [undefined] : [];
  }
  const { mode, names } = event.target;
  switch (mode) {
    case 'channels':
      return names.filter((c) => channels.has(c));
    case 'channels-efficient': {
      const first = names.find((c) => channels.has(c));
      return first === undefined ? [] : [first];
    }
    case 'users':
      return names.includes(userId) ? [undefined] : [];
  }
}
