/**
 * The socket protocol as types (contract §5): Socket.IO's typed event maps for every client and
 * server event, with their payloads and acks. The server is typed by them (`ChattyIo`), and the
 * package exports them for clients:
 *
 * @example
 *   import { io, type Socket } from 'socket.io-client';
 *   import type { ClientToServerEvents, ServerToClientEvents } from 'chatty';
 *   const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(url, { auth: { token } });
 *   const answer = await socket.emitWithAck('chat:send', { channel: 'rooms-1', body: 'hi' });
 *   if (answer.ok) console.log(answer.message.id);
 *
 * Every event here is described in docs/socket-protocol.md (a test checks it).
 */
import type { ChatMessagePayload } from '../channels/delivery-plan.js';
import type { ChannelName, ConversationName, UserId } from '../channels/names.js';
import type { ErrorCode } from '../errors.js';

export type { ChatMessagePayload };

/** A conversation: a group channel the user is in, or a private one by the other user's id. */
export type Address = { channel: ConversationName; to?: undefined } | { to: UserId; channel?: undefined };

/** A failed request: a code of the error registry and a message for people. */
export interface AckError {
  ok: false;
  error: { code: ErrorCode; message: string };
}

/** The ack of a client event: `{ok: true, ...T}` or an {@link AckError}. */
export type Ack<T extends object> = (answer: ({ ok: true } & T) | AckError) => void;

export interface ReadyPayload {
  userId: UserId;
  /** The user's channels, joined. */
  channels: ChannelName[];
  /** Events replayed before this, after the handshake's `lastEventId`. */
  replayed: number;
  /** The last event id delivered: keep it, to reconnect with it. */
  lastEventId: number;
}

export interface ReceiptPayload {
  channel: ConversationName;
  userId: UserId;
  messageId: number;
  readAt: string;
}

/** `meta`, the last argument of every notification (contract §4.2). */
export interface NotificationMeta {
  id: number;
  time: string;
  origin?: ChannelName;
}

/** Each client event: what it sends, and what its ack answers on success (besides `ok: true`). */
export interface ClientRequests {
  'chat:send': { payload: Address & { body: string; clientId?: string | null }; answer: { message: ChatMessagePayload } };
  'chat:read': { payload: Address & { messageId: number }; answer: { advanced: boolean } };
  'chat:history': {
    payload: Address & { before?: number; limit?: number };
    answer: { channel: ConversationName; messages: ChatMessagePayload[]; receipts: Record<UserId, number> };
  };
  'chat:unread': { payload: Record<string, never>; answer: { unread: Record<ConversationName, number> } };
  'chat:typing': { payload: Address; answer: Record<string, never> };
  'presence:query': { payload: Address; answer: { channel: ConversationName; online: UserId[] } };
  'auth:refresh': { payload: { token: string }; answer: { exp: number | null } };
  'profiles:get': { payload: { ids: UserId[] }; answer: { profiles: Record<UserId, ProfilePayload> } };
  'labels:get': { payload: { ids: ChannelName[] }; answer: { labels: Record<ChannelName, string | null> } };
}

/** A user's profile (contract §11): `name` defaults to the user id. */
export interface ProfilePayload {
  name: string;
  avatar: string | null;
}

export type ClientEvent = keyof ClientRequests;

export type ClientToServerEvents = { [E in ClientEvent]: (payload: ClientRequests[E]['payload'], ack: Ack<ClientRequests[E]['answer']>) => void };

/** Why a socket's authentication ended (`auth:expired`); the socket is disconnected next. */
export type ExpiryReason = 'token_expired' | 'key_retired';

/** The events the server sends besides notifications. */
export interface ChattyServerEvents {
  ready: (ready: ReadyPayload) => void;
  'auth:expired': (info: { reason: ExpiryReason }) => void;
  'chat:message': (message: ChatMessagePayload) => void;
  'chat:receipt': (receipt: ReceiptPayload) => void;
  'chat:typing': (typing: { channel: ConversationName; userId: UserId }) => void;
  presence: (presence: { userId: UserId; status: 'online' | 'offline' }) => void;
  /** A user the socket may see changed profile (the user's own sockets too). Logged and replayed. */
  profile: (profile: ProfilePayload & { userId: UserId }, meta: NotificationMeta) => void;
  /** Moderation removed a message of one of the user's conversations. Logged and replayed. */
  'chat:deleted': (deleted: { id: number; channel: ConversationName }, meta: NotificationMeta) => void;
  /** The app server changed the user's channels; the sockets have already joined (left) them. Logged and replayed. */
  'subscriptions:changed': (change: SubscriptionsChangedPayload, meta: NotificationMeta) => void;
}

/** One call's change to a user's channels: one of the two lists is empty. */
export interface SubscriptionsChangedPayload {
  added: ChannelName[];
  removed: ChannelName[];
}

/**
 * Everything a client receives: the events above, and notifications named by the app server
 * (contract §4.2) as `(payload, meta: NotificationMeta)`, the payload being the notification's
 * attributes with `origin` and `date-time` when asked for.
 */
export type ServerToClientEvents = ChattyServerEvents & {
  [notification: string]: (...args: any[]) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
};

/** The client events, at run time: each is described in docs/socket-protocol.md. */
export const CLIENT_EVENTS = ['chat:send', 'chat:read', 'chat:history', 'chat:unread', 'chat:typing', 'presence:query', 'auth:refresh', 'profiles:get', 'labels:get'] as const satisfies readonly ClientEvent[];

/** The events the server sends besides notifications, at run time. */
export const SERVER_EVENTS = ['ready', 'auth:expired', 'chat:message', 'chat:receipt', 'chat:typing', 'presence', 'subscriptions:changed', 'chat:deleted', 'profile'] as const satisfies readonly (keyof ChattyServerEvents)[];

// both lists name every event of their map: a new event in a map and not in its list fails to compile
type Unlisted<Map, List extends readonly string[]> = Exclude<Extract<keyof Map, string>, List[number]>;
const everyEventListed: [Unlisted<ClientRequests, typeof CLIENT_EVENTS> | Unlisted<ChattyServerEvents, typeof SERVER_EVENTS>] extends [never] ? true : false = true;
void everyEventListed;
